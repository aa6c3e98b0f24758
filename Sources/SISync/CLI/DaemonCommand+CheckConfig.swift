import Foundation

extension DaemonCommand {
    /// `--check-config`: every finding on stdout, then `configuration OK` (0) or the number
    /// of problems (78). With `--tenants DIR`, each tenant's file in turn.
    func checkConfiguration(_ args: Arguments) -> Int32 {
        var files: [(label: String?, path: String)] = []
        if let directory = args.value("tenants") {
            guard args.value("config") == nil else {
                console.err("sisyncd: --tenants takes each tenant's configuration from DIR; it cannot be combined with --config\n")
                return 64
            }
            do {
                files = try TenantDirectory(path: directory).load().map { ("tenant \($0.name)", $0.file) }
            } catch {
                console.out("\(error)\n")
                return 78
            }
            if files.isEmpty { console.out("\(directory): no tenants (NAME.conf files)\n") }
        } else {
            files = [(nil, args.value("config") ?? "/etc/sisync/sisync.conf")]
        }
        var problems = 0
        for (label, path) in files {
            let findings = ConfigurationCheck(path: path).run()
            let indent = label == nil ? "" : "  "
            if let label { console.out("\(label) (\(path)):\n") }
            for f in findings { console.out(indent + f.description + "\n") }
            let count = findings.filter { $0.kind == .problem }.count
            problems += count
            console.out(indent + (count == 0 ? "configuration OK\n" : "\(count) problem\(count == 1 ? "" : "s") in \(path)\n"))
        }
        return problems == 0 ? 0 : 78
    }
}
