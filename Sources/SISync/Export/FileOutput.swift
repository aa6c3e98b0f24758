import Foundation

/// Appends bytes to a run file through a 1 MiB buffer.
struct FileOutput {
    let file: RunFile
    private let pending = ByteBuffer(capacity: 1 << 20)
    private(set) var written = 0

    init(file: RunFile) { self.file = file }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= 1 << 20 {
            // A large piece (the rows in order, moved out of memory) goes to the file as it
            // is: through `pending` it would grow that to its size for the rest of the file,
            // and hold the rows twice meanwhile.
            try flush()
            if let reason = file.write(bytes) { throw RunDirectoryError.cannotWriteFile(path: file.shownAs, reason: reason) }
            written += bytes.count
            return
        }
        pending.append(bytes)
        written += bytes.count
        if pending.count >= 1 << 20 { try flush() }
    }

    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        if let reason = file.write(UnsafeRawBufferPointer(pending.bytes)) {
            throw RunDirectoryError.cannotWriteFile(path: file.shownAs, reason: reason)
        }
        pending.removeAll()
    }
}
