import Foundation

/// The SHA-256 of an export's local files (R3), each file on a core of its own.
///
/// An unchanged run does little besides this: on a district's export (58 MB in seven
/// files) hashing them in turn was 0.05 s, close to half of the whole run, while the
/// second core idled. The largest files start first, so the cores finish together.
/// The result and any error are those of hashing in turn: the files in their order, and
/// of several failures the first file's (a stop, an unreadable file, one over `max_bytes`).
struct LocalFileDigests {
    struct File: Sendable {
        var entity: EntityKind?
        var path: String
        var name: String
    }

    let files: [File]
    let maxBytes: Int64
    let stop: StopSignal?

    func compute() throws -> [FetchedFile] {
        let outcomes = ParallelResults<Result<FetchedFile, Error>>(count: files.count)
        let group = DispatchGroup()
        let sizes = files.map { f -> Int64 in
            var st = stat()
            return stat(f.path, &st) == 0 ? Int64(st.st_size) : 0
        }
        let (maxBytes, stop) = (maxBytes, stop)
        for i in files.indices.sorted(by: { sizes[$0] > sizes[$1] }) {
            let f = files[i]
            group.enter()
            DispatchQueue.global(qos: .userInitiated).async {
                outcomes.set(i, Result {
                    if let stop, stop.isStopping { throw FetchError.aborted(url: f.name) }
                    return try ExportFetcher.hashLocal(path: f.path, name: f.name, entity: f.entity, temporary: false, maxBytes: maxBytes)
                })
                group.leave()
            }
        }
        // Every file is waited for, also after a failure: no reader outlives the fetch.
        group.wait()
        return try files.indices.map { try outcomes.wait($0).get() }
    }
}
