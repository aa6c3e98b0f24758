import SISync

/// Why the server could not start: what failed, on which address, and what to do.
/// Exit 69 (`ExitCode.of`): the service cannot be offered where it was asked to be.
package enum HTTPServerError: Error, Equatable, CustomStringConvertible, ClassifiedError {
    package var failureClass: FailureClass { .unavailable }

    case resolve(address: String, reason: String)
    case socket(address: String, call: String, errno: Int32)
    case unixPathInUse(path: String)
    case notAListeningSocket(fd: Int32, reason: String)
    case tlsFile(path: String, reason: String)
    case start(address: String, tls: Bool)
    case systemdSockets(reason: String)

    package var description: String {
        switch self {
        case .resolve(let address, let reason):
            return "cannot listen on \(address): the host does not resolve (\(reason)); give an IP address or a name in /etc/hosts"
        case .socket(let address, let call, let e):
            let hint = e == EADDRINUSE ? "; another process listens there (sisync-api already running?)"
                : e == EACCES ? "; a port below 1024 needs the service's socket unit (sisync-api.socket)" : ""
            return "cannot listen on \(address): \(call) failed: \(String(cString: strerror(e)))\(hint)"
        case .unixPathInUse(let path):
            return "cannot listen on unix:\(path): the path exists and is not a socket, or a process answers on it; remove it or choose another path"
        case .notAListeningSocket(let fd, let reason):
            return "the socket systemd passed as fd \(fd) cannot be served: \(reason); check ListenStream= in sisync-api.socket"
        case .tlsFile(let path, let reason):
            return "cannot read \(path) ([api] tls_certificate / tls_key): \(reason)"
        case .start(let address, let tls):
            return "libmicrohttpd could not start on \(address)" + (tls ? " (is [api] tls_certificate a PEM certificate and tls_key its PEM private key?)" : "")
        case .systemdSockets(let reason):
            return "the sockets systemd passed cannot be used: \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
