/// A pair of limits a guard judges by (R5): it trips only when a run would exceed **both**
/// the share and the count, so that a small school's two leavers and a large district's
/// daily turnover both pass, while a truncated export does not.
public struct GuardLimit: Sendable, Equatable {
    public var percent: Double
    public var count: Int

    /// The share `n` is of `total` when both limits are exceeded; nil when the run may go.
    func exceeded(_ n: Int, of total: Int) -> Double? {
        guard n > count, total > 0 else { return nil }
        let share = Double(n) * 100 / Double(total)
        return share > percent ? share : nil
    }

    /// "10% and 5": how messages state the limits.
    var described: String { "\(GuardLimit.format(percent))% and \(count)" }

    static func format(_ p: Double) -> String {
        p == p.rounded() ? String(Int(p)) : String((p * 10).rounded() / 10)
    }
}
