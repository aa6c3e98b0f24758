import Foundation

/// A file only its owner may read (mode 0600 from the start, whatever the umask), for
/// output that holds access codes. It is written under a temporary name in the same
/// directory and put in place by `commit`: an existing file is never replaced without
/// `replace`, and a failed write leaves nothing behind.
package final class PrivateFile {
    let path: String
    private let temporary: String
    private var descriptor: Int32
    private let replace: Bool
    /// The first write error, for the message.
    private(set) var failure: String?

    package init(path: String, replace: Bool) throws {
        self.path = path
        self.replace = replace
        if !replace, FileManager.default.fileExists(atPath: path) { throw LetterPDFError.exists(path: path) }
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        temporary = (directory.isEmpty ? "" : directory + "/") + ".\(base).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).part"
        descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LetterPDFError.write(path: path, reason: String(cString: strerror(errno))) }
        // open()'s mode is masked by the umask; this is not.
        _ = fchmod(descriptor, 0o600)
    }

    deinit {
        if descriptor >= 0 { close(descriptor); unlink(temporary) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil, descriptor >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                return false
            }
            offset += n
        }
        return true
    }

    /// Puts the complete file in place: linked without replacing anything (unless
    /// `replace`), so two writers cannot both think they made it.
    package func commit() throws {
        guard failure == nil else { throw LetterPDFError.write(path: path, reason: failure!) }
        guard fsync(descriptor) == 0, close(descriptor) == 0 else {
            let why = String(cString: strerror(errno))
            descriptor = -1
            unlink(temporary)
            throw LetterPDFError.write(path: path, reason: why)
        }
        descriptor = -1
        defer { unlink(temporary) }
        if replace {
            guard rename(temporary, path) == 0 else { throw LetterPDFError.write(path: path, reason: String(cString: strerror(errno))) }
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw LetterPDFError.exists(path: path) }
                throw LetterPDFError.write(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }
}
