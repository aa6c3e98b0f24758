import Foundation

extension ExportFetcher {
    /// A `.zip` bundle, local or downloaded: the manifest and the files it names are
    /// unpacked into the run's private directory (streamed through zlib, each within `max_bytes`).
    func fetchZipBundle(_ url: String, remote: Bool, files: inout [FetchedFile], manifest: inout OneRosterManifest?) throws {
        var zipPath = url
        var downloaded: String?
        defer { if let downloaded { directory.remove(path: downloaded) } }
        if remote {
            let file = try download(url, entity: nil, label: "bundle.zip", using: try CurlTransfer())
            zipPath = file.path
            downloaded = file.path
        } else if url.lowercased().hasPrefix("file://") {
            guard let u = URL(string: url), u.isFileURL else { throw FetchError.unsupportedURL(url: url) }
            zipPath = u.path
        }
        let archive = try ZipArchive(path: zipPath)
        func extract(_ fileName: String, label: String) throws -> FetchedFile? {
            guard let entry = archive.entry(baseName: fileName) else { return nil }
            let out = try archive.extract(entry, into: directory, name: label, maxBytes: configuration.maxBytes)
            let f = try hashLocal(path: out.path, name: "\(url) \(entry.name)", entity: nil, temporary: true)
            return FetchedFile(entity: nil, name: entry.name, path: out.path, isTemporary: true, sha256: f.sha256, bytes: f.bytes)
        }
        guard let m = try extract("manifest.csv", label: "manifest.csv") else { throw OneRosterError.missingManifest(location: url) }
        files.append(tagged(m, "manifest"))
        let parsed = try OneRosterManifest.read(path: m.path, name: m.name)
        manifest = parsed
        for f in OneRosterFile.allCases where parsed.mode(f) != .absent {
            if let stop, stop.isStopping { throw FetchError.aborted(url: url) }
            guard let file = try extract(f.fileName, label: f.fileName) else {
                throw OneRosterError.missingFile(location: url, file: f.fileName, mode: parsed.mode(f).rawValue)
            }
            files.append(tagged(file, f.rawValue))
        }
    }
}
