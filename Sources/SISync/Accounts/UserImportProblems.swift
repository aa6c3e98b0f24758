/// The problems found in an import file, as they are found: the first `kept` in full, and
/// how many there were in all. The command shows twenty of them and the count; a file of a
/// million bad rows kept a line of text for each (over 100 MB; issue 34 bounds the command's
/// memory by design, whatever the file holds).
struct UserImportProblems {
    /// More than an administrator reads, and more than the command shows.
    static let kept = 1_000

    private(set) var first: [String] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ problem: @autoclosure () -> String) {
        count += 1
        if first.count < Self.kept { first.append(problem()) }
    }

    func error(file: String) -> UserImportError {
        UserImportError(file: file, problems: first, total: count)
    }
}
