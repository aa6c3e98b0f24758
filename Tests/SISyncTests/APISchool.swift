import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI

/// A school for the API's tests (APIServiceTests calls the service with values,
/// APIHTTPTests runs `sisync-api` over it): staff S1 (ann), students ST1 and ST2 (active) and
/// ST3 (inactive, with a code), users ann (staff, password set), mom and dad (parents), the
/// form IEP with a role for ann in building 101; one client `app` with every scope.
struct APISchool {
    static let password = "correct horse battery"

    let w: Workspace
    var c: Configuration
    let token: String
    let codes: [String: String]
    let log = MemoryLog()

    func service(hashing: PasswordHashingLimit = PasswordHashingLimit(), onThrottle: @escaping @Sendable (String, String?, APIFailureKind) -> Void = { _, _, _ in }) -> APIService {
        APIService(configuration: c, log: log, hashing: hashing, onThrottle: onThrottle)
    }

    static func make(_ w: Workspace = Workspace()) throws -> APISchool {
        var c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        w.write("staff.csv", staffCSV([("S1", "Ann", "Lee", "ann@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,101,5,Enrolled,2026-2027
            ST2,Lou,Lima,,102,9,Enrolled,2026-2027
            ST3,Max,Roe,,101,6,Enrolled,2026-2027
            """)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for u in ["ann", "mom", "dad"] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", u, "--email", u == "ann" ? "ann@district.org" : "\(u)@home.org", "--approved"]).code, 0)
        }
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: [password]).code, 0)
        XCTAssertEqual(w.ctl(["user", "link", "ann", "S1", "--reason", "private note of the office"]).code, 0)
        for args in [["form", "add", "IEP"], ["role", "create", "Case Manager"], ["role", "set", "Case Manager", "IEP", "--default", "view", "--max", "edit"],
                     ["user", "assign", "ann", "Case Manager", "--buildings", "101"]] {
            XCTAssertEqual(w.ctl(args).code, 0, args.joined(separator: " "))
        }
        var codes: [String: String] = [:]
        let store = try w.store()
        for s in ["ST1", "ST2", "ST3"] { codes[s] = try store.accessCodes.enableAccess(student: s, actor: "office", now: Date()).code }
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,101,5,Enrolled,2026-2027
            ST2,Lou,Lima,,102,9,Enrolled,2026-2027
            """)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let token = try store.apiClients.add(name: "app", scopes: Set(APIScope.allCases), actor: "admin", now: Date()).token
        c.api.writeWait = ConfigDuration(seconds: 0.5)
        return APISchool(w: w, c: c, token: token, codes: codes)
    }
}
