import Foundation

/// Issue 34's scale table: the import's time and the largest peak RSS of any scenario at
/// the base size and at each larger one, over rounds that alternate the sizes
/// (`--compare-scale 2,5 --rounds 3`: 1x, 2x, 5x, 1x, 2x, 5x, ...).
///
/// Why rounds: on this two-core machine one import at 1x took 2.48–3.19 s and at 5x
/// 13.2–16.9 s within ten minutes, so a single pair gave a 5x ratio anywhere from 5.3 to
/// 6.8. Each round's ratio is taken within the round (the sizes ran back to back, under the
/// same load), and the verdict is the median of those ratios, not a ratio of medians
/// measured minutes apart.
struct ScaleComparison {
    let base: Double
    let larger: [Double]
    /// Per round, each size's measurements (the scenarios `runScenarios` ran).
    private(set) var rounds: [[Double: [Measurement]]] = []

    init(base: Double, larger: [Double]) {
        self.base = base
        self.larger = larger
    }

    mutating func add(round: [Double: [Measurement]]) { rounds.append(round) }

    /// The time target for `factor` times the data: linear, with 4% of slack (issue 34:
    /// 5.2x at 5x).
    static func timeLimit(_ factor: Double) -> Double { factor * 1.04 }
    /// The peak RSS target for any larger size: at most 1.3x the base size's, and under
    /// 300 MB (issue 34, stated for 5x).
    static let rssGrowthLimit = 1.3
    static let rssLimitMB = 300.0

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private func importSeconds(_ round: [Double: [Measurement]], _ scale: Double) -> Double? {
        round[scale]?.first(where: { $0.scenario == "import" })?.seconds
    }

    private func peakMB(_ round: [Double: [Measurement]], _ scale: Double) -> Double? {
        round[scale]?.map(\.peakRSSMB).max()
    }

    /// One size's figures over the rounds: the import's seconds, the largest peak, and
    /// both as ratios to the base size's in the same round.
    private struct Figures {
        var times: [Double] = [], peaks: [Double] = [], timeRatios: [Double] = [], rssRatios: [Double] = []
    }

    private func figures(_ scale: Double) -> Figures {
        var f = Figures()
        for r in rounds {
            if let s = importSeconds(r, scale) {
                f.times.append(s)
                if let b = importSeconds(r, base) { f.timeRatios.append(s / b) }
            }
            if let p = peakMB(r, scale) {
                f.peaks.append(p)
                if let b = peakMB(r, base) { f.rssRatios.append(p / max(b, 1)) }
            }
        }
        return f
    }

    /// The table and one verdict line per larger size.
    func report(rows: (Double) -> Int) -> [String] {
        var lines = ["", "scale table: the import and the largest peak RSS of any scenario, median of \(rounds.count) round\(rounds.count == 1 ? "" : "s") (sizes alternated; ratios taken within each round)",
                     "scale       rows  import s  (fastest-slowest)  ratio to \(Self.label(base))  peak RSS MB  ratio to \(Self.label(base))"]
        for scale in [base] + larger {
            let f = figures(scale)
            lines.append(padded(Self.label(scale), 5) + String(format: " %10d  %8.2f  (%5.2f-%5.2f)      %6.2fx         %6.0f      %6.2fx",
                                                               rows(scale), Self.median(f.times), f.times.min() ?? 0, f.times.max() ?? 0,
                                                               Self.median(f.timeRatios), Self.median(f.peaks), Self.median(f.rssRatios)))
        }
        for scale in larger {
            let factor = scale / base
            let f = figures(scale)
            let time = Self.median(f.timeRatios), rss = Self.median(f.rssRatios), peak = Self.median(f.peaks)
            let limit = Self.timeLimit(factor)
            lines.append(String(format: "import at %gx the data took %.2fx the time (rounds: %@; target <= %.2fx: %@)", factor, time,
                                f.timeRatios.map { String(format: "%.2f", $0) }.joined(separator: ", "), limit, time <= limit ? "met" : "MISSED"))
            let rssMet = rss <= Self.rssGrowthLimit && peak < Self.rssLimitMB
            lines.append(String(format: "peak RSS at %gx the data: %.0f MB, %.2fx the %@ peak (targets <= %.1fx and < %.0f MB: %@)", factor, peak, rss,
                                Self.label(base), Self.rssGrowthLimit, Self.rssLimitMB, rssMet ? "met" : "MISSED"))
        }
        return lines
    }

    static func label(_ scale: Double) -> String { String(format: "%gx", scale) }
}
