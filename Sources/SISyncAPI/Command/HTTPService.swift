@preconcurrency import Dispatch
import Foundation
import SISync

/// sisync-api's server as a service of its process's `ServiceGroup`: it starts listening
/// (a socket that cannot be served fails it: exit 69), says READY, writes the metrics file
/// every 15 s, and on a stop lets the requests in progress finish for `stopGrace`, writes
/// the last uses and the metrics, and returns within `stopWait` whatever a handler does.
final class HTTPService: Service, @unchecked Sendable {
    let name = "the HTTP server"
    private let server: HTTPServer
    private let handler: any HTTPHandler
    private let addresses: String
    private let log: EventLog
    private let notifier: ServiceNotifier
    private let fields: [(String, String)]
    private let stopWait: Double
    private let writeMetrics: @Sendable () -> Void
    private let stopRequested = DispatchSemaphore(value: 0)

    init(server: HTTPServer, handler: any HTTPHandler, addresses: String, log: EventLog, notifier: ServiceNotifier, fields: [(String, String)],
         stopWait: Double, writeMetrics: @escaping @Sendable () -> Void) {
        self.server = server
        self.handler = handler
        self.addresses = addresses
        self.log = log
        self.notifier = notifier
        self.fields = fields
        self.stopWait = stopWait
        self.writeMetrics = writeMetrics
    }

    func stop() { stopRequested.signal() }

    func run() throws {
        try server.start()
        log.log(LogEvent(.apiService, .notice, "sisync-api \(SisyncVersion.current) started: listening on \(addresses)", fields: fields))
        notifier.ready(status: "listening on \(addresses)")
        writeMetrics()
        while stopRequested.wait(timeout: .now() + 15) == .timedOut { writeMetrics() }

        log.log(LogEvent(.apiService, .notice, "sisync-api is stopping"))
        // A handler stuck past the grace (a store that does not answer) must not hold the
        // stop past systemd's patience: the service returns regardless.
        let stopped = DispatchSemaphore(value: 0)
        let server = self.server, handler = self.handler
        Thread.detachNewThread {
            server.stop()
            // Last uses are written at most once a minute; the ones since, now.
            (handler as? APIService)?.flushLastUse()
            stopped.signal()
        }
        if stopped.wait(timeout: .now() + stopWait) == .timedOut {
            log.log(LogEvent(.apiService, .warning, "sisync-api: requests still running after the grace period; ending without them"))
        }
        writeMetrics()
    }
}
