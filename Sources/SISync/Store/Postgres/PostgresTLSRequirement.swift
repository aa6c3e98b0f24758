import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether a PostgreSQL URI may leave TLS unverified (issue 26 item 8). libpq's default
/// `sslmode=prefer` neither insists on TLS nor checks the certificate, which is safe only
/// when no network lies between sisync and the server. The decision is made on what libpq
/// will connect to, not on the URI's host as written: `?host=` and `?hostaddr=` replace it,
/// `PGHOST` and `PGHOSTADDR` fill in what the URI leaves out, a multi-host list tries every
/// entry, and a service (`service=`, `PGSERVICE`) may name any server in a file sisync does
/// not read. `sslmode=verify-full` (or `verify-ca`) in the URI is the administrator's
/// answer for any server; libpq then uses it whatever the environment says.
public enum PostgresTLSRequirement {
    /// The sslmodes that check the server's certificate.
    public static let verifyingModes: Set<String> = ["verify-full", "verify-ca"]

    /// Why `options` (libpq's reading of the URI, `PostgresConnection.options(of:)`) would
    /// reach a server over the network without verifying it, with `environment` as the
    /// process's; nil when every server it may connect to is a unix socket or the loopback,
    /// or when the URI verifies.
    public static func unverifiedServer(options: [String: String], environment: [String: String]) -> String? {
        if let mode = options["sslmode"], verifyingModes.contains(mode) { return nil }
        if let service = options["service"] {
            return "the URI names service=\(service), a pg_service.conf entry whose server sisync cannot check"
        }
        if let service = environment["PGSERVICE"], !service.isEmpty {
            return "PGSERVICE=\(service) in the environment names a pg_service.conf entry whose server sisync cannot check"
        }
        let hosts = list(options["host"], orEnvironment: "PGHOST", environment)
        let addresses = list(options["hostaddr"], orEnvironment: "PGHOSTADDR", environment)
        // libpq pairs the two lists entry by entry; a hostaddr, when given, is where it connects.
        for i in 0..<max(hosts.values.count, addresses.values.count) {
            if i < addresses.values.count, !addresses.values[i].isEmpty {
                let address = addresses.values[i]
                if !isLoopbackAddress(address) { return "hostaddr \(address) (\(addresses.source)) is not the loopback" }
                continue
            }
            let host = i < hosts.values.count ? hosts.values[i] : ""
            if !isLocalHost(host) { return "the host \(host) (\(hosts.source)) is neither a unix socket nor the loopback" }
        }
        return nil
    }

    /// An empty host is libpq's default unix socket; `/…` and `@…` are socket paths.
    static func isLocalHost(_ host: String) -> Bool {
        host.isEmpty || host.hasPrefix("/") || host.hasPrefix("@") || host.lowercased() == "localhost" || isLoopbackAddress(host)
    }

    /// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104, as libpq would read the numeric address.
    static func isLoopbackAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
    }

    /// A comma-separated list from the URI, else from the environment variable libpq falls
    /// back on, and where it came from (for the message).
    private static func list(_ fromURI: String?, orEnvironment name: String, _ environment: [String: String]) -> (values: [String], source: String) {
        if let fromURI { return (split(fromURI), "in the URI") }
        if let fromEnvironment = environment[name] { return (split(fromEnvironment), "\(name) in the environment") }
        return ([], "")
    }

    private static func split(_ s: String) -> [String] {
        s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
}

/// A URI libpq itself refuses, with libpq's reason.
public struct PostgresURIError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
