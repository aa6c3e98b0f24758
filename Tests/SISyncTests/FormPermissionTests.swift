import XCTest
@testable import SISync

/// Form permission roles (issue 7).
final class FormPermissionTests: XCTestCase {
    private func district(_ w: Workspace) {
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,2026-2027\nST2,Lou,Ray,,102,5,Enrolled,2026-2027\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for args in [["user", "add", "--username", "ann", "--email", "ann@district.org"], ["user", "add", "--username", "bob", "--email", "bob@district.org"],
                     ["form", "add", "IEP", "--group", "Special Education"], ["form", "add", "504 Plan", "--group", "Special Education"],
                     ["form", "add", "Evaluation"]] {
            XCTAssertEqual(w.ctl(args).code, 0, "\(args)")
        }
    }

    private func check(_ w: Workspace, _ user: String, _ form: String, building: String, grant: String? = nil) throws -> [String: Any] {
        let r = w.ctl(["--json", "access-check", user, form, "--building", building] + (grant.map { ["--grant", $0] } ?? []))
        XCTAssertEqual(r.code, 0, r.err)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
    }

    /// One row of the seed's meaning table: a role with (default, max) for IEP in building 101.
    private func meaning(_ d: PermissionLevel, _ m: PermissionLevel) throws {
        let w = Workspace()
        district(w)
        XCTAssertEqual(w.ctl(["role", "create", "Case Manager"]).code, 0)
        XCTAssertEqual(w.ctl(["role", "set", "Case Manager", "IEP", "--default", "\(d)", "--max", "\(m)"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "assign", "ann", "Case Manager", "--buildings", "101"]).code, 0)
        let plain = try check(w, "ann", "IEP", building: "101")
        XCTAssertEqual(plain["default"] as? String, "\(d)")
        XCTAssertEqual(plain["max"] as? String, "\(m)")
        XCTAssertEqual(plain["can_create"] as? Bool, m == .owner, "creating takes max owner")
        // Without a grant the user sees and edits what the default allows.
        let access = FormAccess.evaluate(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP"), building: "101")
        XCTAssertEqual(access.level >= .view, d >= .view, "view without a grant")
        XCTAssertEqual(access.level >= .edit, d >= .edit, "edit without a grant")
        // Added to a document with any grant: the higher of default and the grant capped at max.
        for g in PermissionLevel.allCases {
            let granted = try check(w, "ann", "IEP", building: "101", grant: "\(g)")
            XCTAssertEqual(granted["level"] as? String, "\(max(d, min(g, m)))", "grant \(g)")
        }
        let owner = FormAccess.evaluate(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP"), building: "101", grant: .owner)
        XCTAssertEqual(owner.level, m, "an owner grant is capped at max")
        XCTAssertEqual(owner.level >= .view, m >= .view)
        XCTAssertEqual(owner.level >= .edit, m >= .edit)
    }

    func testMeaningNoneNone() throws { try meaning(.none, .none) }
    func testMeaningNoneView() throws { try meaning(.none, .view) }
    func testMeaningNoneEdit() throws { try meaning(.none, .edit) }
    func testMeaningNoneOwner() throws { try meaning(.none, .owner) }
    func testMeaningViewView() throws { try meaning(.view, .view) }
    func testMeaningViewEdit() throws { try meaning(.view, .edit) }
    func testMeaningViewOwner() throws { try meaning(.view, .owner) }
    func testMeaningEditEdit() throws { try meaning(.edit, .edit) }
    func testMeaningEditOwner() throws { try meaning(.edit, .owner) }
    func testMeaningOwnerOwner() throws { try meaning(.owner, .owner) }

    func testNoRoleRoleWithoutBuildingsAndUncoveredBuildings() throws {
        let w = Workspace()
        district(w)
        let none = try check(w, "bob", "IEP", building: "101")
        XCTAssertEqual([none["default"] as? String, none["max"] as? String], ["none", "owner"], "no role at all: none/owner")
        XCTAssertEqual(w.ctl(["role", "create", "Teacher"]).code, 0)
        XCTAssertEqual(w.ctl(["role", "set", "Teacher", "IEP", "--default", "view", "--max", "edit"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "assign", "bob", "Teacher"]).code, 0)
        let anywhere = try check(w, "bob", "IEP", building: "999")
        XCTAssertEqual([anywhere["default"] as? String, anywhere["max"] as? String], ["none", "owner"], "assigned without buildings")
        XCTAssertEqual(w.ctl(["user", "assign", "bob", "Teacher", "--buildings", "101"]).code, 0)
        let other = try check(w, "bob", "IEP", building: "102")
        XCTAssertEqual([other["default"] as? String, other["max"] as? String], ["none", "none"], "a building no role covers")
        let unset = try check(w, "bob", "Evaluation", building: "101")
        XCTAssertEqual([unset["default"] as? String, unset["max"] as? String], ["none", "none"], "a form the role does not set")
        // --student takes the building from the student's school.
        let r = w.ctl(["--json", "access-check", "bob", "IEP", "--student", "ST1"])
        XCTAssertTrue(r.out.contains("\"building\": \"101\"") && r.out.contains("\"default\": \"view\""), r.out)
        let refused = w.ctl(["role", "set", "Teacher", "IEP", "--default", "owner", "--max", "view"])
        XCTAssertEqual(refused.code, 1)
        XCTAssertTrue(refused.err.contains("above the max"), refused.err)
    }

    func testAUserWithTwoRolesInDifferentBuildings() throws {
        let w = Workspace()
        district(w)
        for args in [["role", "create", "Teacher"], ["role", "set", "Teacher", "IEP", "--default", "view", "--max", "edit"],
                     ["role", "create", "Coordinator"], ["role", "set", "Coordinator", "IEP", "--default", "edit", "--max", "owner"],
                     ["user", "assign", "ann", "Teacher", "--buildings", "101,102"], ["user", "assign", "ann", "Coordinator", "--buildings", "102"]] {
            XCTAssertEqual(w.ctl(args).code, 0, "\(args)")
        }
        let b101 = try check(w, "ann", "IEP", building: "101")
        XCTAssertEqual([b101["default"] as? String, b101["max"] as? String], ["view", "edit"])
        XCTAssertEqual(b101["can_create"] as? Bool, false)
        let b102 = try check(w, "ann", "IEP", building: "102")
        XCTAssertEqual([b102["default"] as? String, b102["max"] as? String], ["edit", "owner"], "the highest of both")
        XCTAssertEqual(b102["can_create"] as? Bool, true)
        let shown = w.ctl(["user", "show", "ann"])
        XCTAssertTrue(shown.out.contains("form permission role Coordinator in buildings 102"), shown.out)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(w.ctl(["--json", "user", "show", "ann"]).out.utf8)) as? [String: Any])
        XCTAssertEqual((json["permission_roles"] as? [[String: Any]])?.count, 2)
    }

    func testMergeWithConflictingSettingsAndDeleteUndeleteRestoresAssignments() throws {
        let w = Workspace()
        district(w)
        for args in [["role", "create", "Teacher"], ["role", "set", "Teacher", "IEP", "--default", "edit", "--max", "edit"],
                     ["role", "set", "Teacher", "Evaluation", "--default", "view", "--max", "view"],
                     ["role", "create", "Aide"], ["role", "set", "Aide", "IEP", "--default", "none", "--max", "owner"],
                     ["role", "set", "Aide", "--group", "Special Education", "--default", "view", "--max", "view"],
                     ["user", "assign", "ann", "Teacher", "--buildings", "101"], ["user", "assign", "ann", "Aide", "--buildings", "102"],
                     ["user", "assign", "--users", "bob", "Aide", "--buildings", "101"]] {
            XCTAssertEqual(w.ctl(args).code, 0, "\(args)")
        }
        // The bulk group set replaced Aide's IEP row: view/view for both forms of the group.
        XCTAssertEqual(try w.store().formPermissions.roleSettings("Aide").map { "\($0.form):\($0.setting.defaultLevel)/\($0.setting.maxLevel)" }, ["504 Plan:view/view", "IEP:view/view"])
        XCTAssertEqual(w.ctl(["role", "merge", "Teacher", "Aide", "--into", "Staff Member"]).code, 0)
        let merged = Dictionary(uniqueKeysWithValues: try w.store().formPermissions.roleSettings("Staff Member").map { ($0.form.lowercased(), $0.setting) })
        XCTAssertEqual(merged["iep"], FormSetting(default: .edit, max: .edit), "highest default, highest max")
        XCTAssertEqual(merged["evaluation"], FormSetting(default: .view, max: .view))
        XCTAssertEqual(merged["504 plan"], FormSetting(default: .view, max: .view))
        let ann = try w.store().formPermissions.formAssignments(of: "ann", form: "IEP")
        XCTAssertEqual(ann.map(\.role), ["Staff Member"])
        XCTAssertEqual(ann.first?.buildings, ["101", "102"], "the union of her buildings")
        XCTAssertEqual(try w.store().formPermissions.permissionRoles(includeDeleted: true).filter(\.deleted).map(\.name), ["Aide", "Teacher"])
        // Undeleting a merged role gives it back to its former users; the merged role stays.
        XCTAssertEqual(w.ctl(["role", "undelete", "Aide"]).code, 0)
        XCTAssertEqual(Set(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP").map(\.role)), ["Aide", "Staff Member"])
        XCTAssertEqual(try w.store().formPermissions.formAssignments(of: "bob", form: "IEP").first { $0.role == "Aide" }?.buildings, ["101"])
        // Delete then undelete: the same users in the same buildings.
        XCTAssertEqual(w.ctl(["role", "delete", "Staff Member"]).code, 0)
        XCTAssertEqual(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP").map(\.role), ["Aide"])
        let deleted = try check(w, "ann", "IEP", building: "101")
        XCTAssertEqual([deleted["default"] as? String, deleted["max"] as? String], ["none", "none"], "Aide covers only 102 for ann")
        XCTAssertEqual(w.ctl(["role", "undelete", "Staff Member"]).code, 0)
        XCTAssertEqual(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP").first { $0.role == "Staff Member" }?.buildings, ["101", "102"])
        // Every change is in the change log with its actor.
        XCTAssertTrue(try w.store().auditTrail.userHistory("ann").contains { $0.change.field == "permission_role" && $0.actor == "admin" })
        let list = w.ctl(["role", "list", "--deleted"])
        XCTAssertTrue(list.out.contains("Teacher") && list.out.contains("merged into Staff Member"), list.out)
    }

    func testFormsListDeleteUndeleteAndRoleRenameShow() throws {
        let w = Workspace()
        district(w)
        XCTAssertEqual(w.ctl(["form", "add", "iep"]).code, 1, "names are unique regardless of case")
        XCTAssertEqual(w.ctl(["form", "delete", "504 Plan"]).code, 0)
        XCTAssertFalse(w.ctl(["form", "list", "--group", "Special Education"]).out.contains("504 Plan"))
        XCTAssertTrue(w.ctl(["form", "list", "--include-deleted"]).out.contains("504 Plan"))
        XCTAssertEqual(w.ctl(["form", "undelete", "504 Plan"]).code, 0)
        XCTAssertEqual(w.ctl(["role", "create", "Teacher"]).code, 0)
        XCTAssertEqual(w.ctl(["role", "set", "Teacher", "IEP", "--default", "view", "--max", "edit"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "assign", "ann", "Teacher", "--buildings", "101"]).code, 0)
        XCTAssertEqual(w.ctl(["role", "rename", "Teacher", "Classroom Teacher"]).code, 0)
        let shown = w.ctl(["role", "show", "Classroom Teacher"])
        XCTAssertTrue(shown.out.contains("1 user") && shown.out.contains("IEP") && shown.out.contains("edit"), shown.out)
        XCTAssertEqual(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP").map(\.role), ["Classroom Teacher"])
        XCTAssertEqual(w.ctl(["user", "unassign", "ann", "Classroom Teacher"]).code, 0)
        XCTAssertEqual(try w.store().formPermissions.formAssignments(of: "ann", form: "IEP").count, 0)
    }
}
