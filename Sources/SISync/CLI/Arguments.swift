/// A command line that fails with exit 64 (usage) on anything it does not understand.
public struct Arguments {
    public private(set) var positional: [String] = []
    private var options: [String: String] = [:]
    private var flags: Set<String> = []

    public struct UsageError: Error, CustomStringConvertible {
        public let description: String
    }

    /// `valued` names options that take a value (`--config PATH` or `--config=PATH`).
    private var repeated: [String: [String]] = [:]

    /// `repeatable` options may be given several times (`--student A --student B`).
    public init(_ args: [String], valued: Set<String>, flags allowed: Set<String>, repeatable: Set<String> = []) throws(UsageError) {
        var i = 0
        var onlyPositional = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyPositional || !a.hasPrefix("--") || a == "-" {
                positional.append(a)
                continue
            }
            if a == "--" { onlyPositional = true; continue }
            var name = String(a.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if valued.contains(name) {
                if value == nil {
                    guard i < args.count else { throw UsageError(description: "--\(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                repeated[name, default: []].append(value!)
                if options[name] != nil {
                    guard repeatable.contains(name) else { throw UsageError(description: "--\(name) is given twice") }
                    continue
                }
                options[name] = value
            } else if allowed.contains(name) {
                if value != nil { throw UsageError(description: "--\(name) takes no value") }
                flags.insert(name)
            } else {
                throw UsageError(description: "unknown option --\(name)")
            }
        }
    }

    public func value(_ name: String) -> String? { options[name] }
    /// Every value of a repeatable option, in order.
    public func values(_ name: String) -> [String] { repeated[name] ?? [] }
    public func flag(_ name: String) -> Bool { flags.contains(name) }
}
