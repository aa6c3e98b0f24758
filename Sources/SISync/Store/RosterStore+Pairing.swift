import Foundation

extension RosterStore {
    /// Pairs a parent with the student whose code they typed (`AccessCodeStore.pair`: the
    /// code rules and the per-parent throttle) and grants them Parent at once (R7; the next
    /// run agrees). What `sisyncctl access pair` and `POST /v1/pairings` both do.
    public func pairParent(username: String, typedCode: String, roles settings: RoleSettings, actor: String, now: Date) throws -> (student: String, granted: RolePlan) {
        let student = try accessCodes.pair(username: username, typedCode: typedCode, actor: actor, now: now)
        let plan = try roles.refreshRoles(of: [username], settings: settings, actor: actor, now: now)
        return (student, plan)
    }
}
