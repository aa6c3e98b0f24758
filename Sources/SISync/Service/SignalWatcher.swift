@preconcurrency import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGTERM/SIGINT/SIGUSR1/SIGHUP into calls on a private queue, so that a signal
/// never interrupts a database write half-way.
package final class SignalWatcher: @unchecked Sendable {
    package init() {}

    private let queue = DispatchQueue(label: "sisync.signals")
    private var sources: [DispatchSourceSignal] = []

    private func watch(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        for s in signals {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    package func onStop(_ handler: @escaping @Sendable () -> Void) { watch([SIGTERM, SIGINT], handler) }
    package func onSyncNow(_ handler: @escaping @Sendable () -> Void) { watch([SIGUSR1], handler) }
    package func onReload(_ handler: @escaping @Sendable () -> Void) { watch([SIGHUP], handler) }
}
