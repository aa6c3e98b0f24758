import Foundation

/// The link phase (R6): links follow the staff as this run leaves them, on every run
/// (unchanged ones too, since users change outside the export). Planned before the guard
/// judges the run, which counts the links it would remove; written by the apply phase.
extension SyncRun {
    /// The run's links; the users it cannot link (an email several active staff share) are
    /// logged, on every run.
    func link(_ plan: Plan, store: RosterStore, now: Date, runID: Int64?, logging: Bool = true) throws -> LinkPlan {
        let links = try planLinks(plan, store: store, now: now)
        for case .ambiguous(let user, let email, let staff) in links.changes where logging {
            log.log(LogEvent(.linkAmbiguous, .warning, "user \(user) is not linked: \(countWords(staff.count)) active staff share \(email): \(staff.joined(separator: ", ")); fix the emails in the SIS or link the user by hand",
                             fields: Self.runFields(runID) + [("SISYNC_USERNAME", user)]))
        }
        try stopIfAsked()
        return links
    }

    private func planLinks(_ plan: Plan, store: RosterStore, now: Date) throws -> LinkPlan {
        let normalizer = EmailNormalizer(aliases: configuration.emailDomainAliases)
        let staffPlan = plan.plan(for: .staff)
        // A stop asked for between statements would not interrupt the next one (SQLite's
        // interrupt stops only what is running then), and these steps take seconds on a
        // district's 300,000 staff: so each step looks for a stop first.
        try stopIfAsked()
        // Staff carried over to new ids (issue 33) are, to linking, already under them.
        let renamed = plan.staffRenames
        let directory = try StaffDirectory.after(staffPlan, rows: plan.snapshot?.entities[.staff], renames: renamed, normalizer: normalizer) { add in
            try store.accounts.forEachStaffEmail(normalizer: normalizer) { add($0, $1, $2) }
        }
        try stopIfAsked()
        let deactivated = Set(staffPlan?.updates.compactMap { $0.deactivate != nil ? $0.key : nil } ?? [])
        let planner = LinkPlanner(now: now, unapproveOnDeactivation: configuration.onStaffDeactivated == .unapprove,
                                  staff: directory, deactivatedNow: deactivated)
        // Users stream through the planner a batch at a time: only their changes stay.
        var links = LinkPlan()
        let keys = try store.accounts.forEachLinkingUserBatch(normalizer: normalizer, staff: directory, stop: stop) { batch in
            guard !renamed.isEmpty else { return planner.add(batch, to: &links) }
            planner.add(batch.lazy.map { u in
                var u = u
                if let id = u.link?.staffID, let new = renamed[id] { u.link?.staffID = new }
                return u
            }, to: &links)
        }
        try stopIfAsked()
        links.putInUserOrder()
        links.emailKeys = keys.keys
        links.emailKeyBasis = keys.basis
        return links
    }
}
