/// The verdict on a plan (R5).
public enum GuardVerdict: Sendable, Equatable {
    case allowed
    /// Allowed only because the administrator said `--allow-mass-deactivation`.
    case overridden(reason: String)
    case blocked(reason: String)
}

/// Stops a run that would deactivate too many records at once: the signature of a
/// truncated or mis-filtered export, not of real turnover (R5). Staff are judged as the
/// SPEC says; every other managed entity is judged by the same thresholds against its
/// own active count, so an export that loses all students is stopped too.
public struct DeactivationGuard: Sendable {
    public let maxPercent: Double
    public let maxCount: Int

    public init(maxPercent: Double, maxCount: Int) {
        self.maxPercent = maxPercent
        self.maxCount = maxCount
    }

    public func judge(_ plan: Plan, allowMassDeactivation: Bool) -> GuardVerdict {
        var reasons: [String] = []
        for p in plan.entities {
            let n = p.deactivationCount
            if p.kind == .staff, p.exportEmpty, p.activeBefore > 0 {
                reasons.append("the staff export has no rows while \(p.activeBefore) staff are active")
                continue
            }
            guard n > maxCount, p.activeBefore > 0 else { continue }
            let percent = Double(n) * 100 / Double(p.activeBefore)
            if percent > maxPercent {
                let noun = p.kind == .staff ? "staff" : p.kind.rawValue.replacingOccurrences(of: "_", with: " ")
                reasons.append("the run would deactivate \(n) of \(p.activeBefore) active \(noun) (\(formatPercent(percent))%, limits: \(formatPercent(maxPercent))% and \(maxCount) records)")
            }
        }
        guard !reasons.isEmpty else { return .allowed }
        let reason = reasons.joined(separator: "; ")
        return allowMassDeactivation ? .overridden(reason: reason) : .blocked(reason: reason)
    }

    private func formatPercent(_ p: Double) -> String {
        p == p.rounded() ? String(Int(p)) : String((p * 10).rounded() / 10)
    }
}
