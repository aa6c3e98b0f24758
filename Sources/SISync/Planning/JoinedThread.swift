import Foundation

/// A thread that is waited for to exit (`join`), unlike Foundation's `Thread`: whoever
/// starts it knows that nothing its body holds outlives the work it was started for
/// (`StoredRecordFeed`: the matching thread and the run's draft).
final class JoinedThread {
    private var handle = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread named `name` (15 bytes at most are kept); nil when the
    /// system cannot start one (its thread limit), for the caller to do the work itself.
    init?(name: String, _ body: @escaping () -> Void) {
        let context = Unmanaged.passRetained(Body(name: name, body)).toOpaque()
        let started = pthread_create(&handle, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            // (Glibc's pthread_setname_np is not visible to Swift.) A name that cannot be
            // set only leaves the process's name on the thread. Written with write(2):
            // Foundation's `Data.write` also asked for an fsync, which procfs refuses.
            let comm = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if comm >= 0 {
                let name = Array(body.name.utf8.prefix(15))
                _ = name.withUnsafeBytes { write(comm, $0.baseAddress, $0.count) }
                close(comm)
            }
            body.run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            return nil
        }
    }

    /// Waits for the thread's body to return and the thread to exit.
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }

    deinit { join() }

    private final class Body {
        let name: String
        let run: () -> Void
        init(name: String, _ run: @escaping () -> Void) {
            self.name = name
            self.run = run
        }
    }
}
