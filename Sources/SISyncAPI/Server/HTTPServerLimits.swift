import Foundation

/// What the server allows one client (issue 30, "A hostile client"). The defaults are the
/// service's; tests shorten the timeouts so that a cut is seen in a second, not ten.
package struct HTTPServerLimits: Sendable, Equatable {
    /// A body past this is 413, counted as it arrives (a chunked body has no length up front).
    package var maxBodyBytes = 64 * 1024
    /// The request target (path and query): past this 414.
    package var maxTargetBytes = 8 * 1024
    /// All header lines together, and how many: past these 431.
    package var maxHeaderBytes = 16 * 1024
    package var maxHeaderCount = 100
    /// Seconds from a connection's start (or the end of its previous answer) to its last
    /// header line, and to its last body byte. libmicrohttpd's own timeout only measures
    /// silence, so a client sending a byte a second would hold a connection forever.
    package var headerTimeout: Double = 10
    package var requestTimeout: Double = 30
    /// Open connections in all, and from one address (a trusted proxy or the unix socket
    /// excepted): `[api] max_connections`, `max_connections_per_client`.
    package var maxConnections = 1024
    package var maxConnectionsPerClient = 128
    /// libmicrohttpd's worker threads, which also run the handler: more than the cores,
    /// since a login hashes a password and a write may wait for a run.
    package var threads = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)
    /// Requests that may wait (every method but GET and HEAD: a login hashes a password, a
    /// write may wait `[api] write_wait` for a run) answered at once off libmicrohttpd's
    /// threads; past this, 503 with Retry-After. On a libmicrohttpd thread such a request
    /// would stall every other connection of that thread, reads too.
    package var maxWaitingRequests = 64
    /// Seconds SIGTERM leaves requests in progress to finish before connections are closed.
    package var stopGrace: Double = 3

    package init() {}

    /// How often the server looks for connections past their time.
    var sweepInterval: Double { max(0.02, min(0.5, headerTimeout / 10)) }
}
