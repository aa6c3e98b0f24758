#if canImport(Glibc)
import Glibc
#endif

/// One file of a run's private directory (`RunDirectory.create`), open for writing. Owns
/// its descriptor; the file itself stays until the directory removes it.
public final class RunFile {
    /// Its name in the directory.
    public let name: String
    /// Where readers open it: through the directory's descriptor (`/proc/self/fd/N/NAME`),
    /// so no other user can put something else in its place.
    public let path: String
    /// For messages: where it is on disk.
    public let shownAs: String
    let descriptor: Int32

    init(name: String, path: String, shownAs: String, descriptor: Int32) {
        self.name = name
        self.path = path
        self.shownAs = shownAs
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Empties the file and writes from its start again (another attempt of a download).
    func rewind() throws(RunDirectoryError) {
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw .cannotCreateFile(path: shownAs, reason: String(cString: strerror(errno)))
        }
    }

    /// Writes all of `bytes`; the reason when it cannot.
    func write(_ bytes: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n < 0 ? String(cString: strerror(errno)) : "nothing written" }
            offset += n
        }
        return nil
    }
}
