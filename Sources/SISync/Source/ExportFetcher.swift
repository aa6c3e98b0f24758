import Foundation

/// One fetched export file, local and hashed.
public struct FetchedFile: Sendable {
    /// The entity the file holds, or nil for a JSON document holding all of them.
    public let entity: EntityKind?
    /// Where it came from (a path or URL), for messages.
    public let name: String
    public let path: String
    public let isTemporary: Bool
    public let sha256: String
    public let bytes: Int64
}

/// The files of one export, ready to parse, with the digest R3 compares.
public struct FetchedExport: Sendable {
    public let format: SourceFormat
    public let files: [FetchedFile]
    public let contentHash: String

    /// The same export without the files of `entities` (which are then not read).
    public func without(_ entities: [EntityKind]) -> FetchedExport {
        guard !entities.isEmpty else { return self }
        return FetchedExport(format: format, files: files.filter { f in f.entity.map { !entities.contains($0) } ?? true }, contentHash: contentHash)
    }

    public func removeTemporaryFiles() {
        for f in files where f.isTemporary { try? FileManager.default.removeItem(atPath: f.path) }
    }
}

/// Gets the export the configuration names: local paths and `file://` URLs are read in
/// place; `http(s)://` URLs are downloaded into temporary files beside the database.
public struct ExportFetcher {
    public let configuration: Configuration
    public let stop: StopSignal?

    public init(configuration: Configuration, stop: StopSignal? = nil) {
        self.configuration = configuration
        self.stop = stop
    }

    /// The location of each configured entity (CSV) or of the document (JSON).
    public func locations() throws(ConfigError) -> [(EntityKind?, String)] {
        let c = configuration
        switch c.format {
        case .csv:
            return c.entities.map { kind in
                if let u = c.entityURLs[kind] { return (kind, u) }
                var base = c.url ?? ""
                if !base.hasSuffix("/") { base += "/" }
                return (kind, base + kind.fileName)
            }
        case .json:
            return [(nil, c.url ?? "")]
        case .oneRosterCSV, .oneRosterREST:
            throw .badValue(file: c.path, line: 0, section: "source", key: "format", value: c.format.rawValue,
                            expected: "csv or json (OneRoster sources are not supported by this version)")
        }
    }

    public func fetch() throws -> FetchedExport {
        var files: [FetchedFile] = []
        var transfer: CurlTransfer?
        do {
            for (entity, location) in try locations() {
                if let stop, stop.isStopping { throw FetchError.aborted(url: location) }
                let lower = location.lowercased()
                if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
                    if transfer == nil { transfer = try CurlTransfer() }
                    files.append(try download(location, entity: entity, using: transfer!))
                } else if lower.hasPrefix("file://") {
                    guard let url = URL(string: location), url.isFileURL else { throw FetchError.unsupportedURL(url: location) }
                    files.append(try hashLocal(path: url.path, name: location, entity: entity, temporary: false))
                } else if lower.contains("://") {
                    throw FetchError.unsupportedURL(url: location)
                } else {
                    files.append(try hashLocal(path: location, name: location, entity: entity, temporary: false))
                }
            }
        } catch {
            FetchedExport(format: configuration.format, files: files, contentHash: "").removeTemporaryFiles()
            throw error
        }
        var combined = SHA256()
        combined.update(Array("sisync-export \(configuration.format.rawValue)\n".utf8))
        for f in files {
            combined.update(Array("\(f.entity?.rawValue ?? "document") \(f.sha256)\n".utf8))
        }
        return FetchedExport(format: configuration.format, files: files, contentHash: SHA256.hex(combined.finalize()))
    }

    private func hashLocal(path: String, name: String, entity: EntityKind?, temporary: Bool) throws -> FetchedFile {
        let file = try InputFile(path: path)
        var digest = SHA256()
        var total: Int64 = 0
        try file.forEachChunk { chunk in
            total += Int64(chunk.count)
            if total > configuration.maxBytes { throw FetchError.tooLarge(url: name, limit: configuration.maxBytes) }
            digest.update(chunk)
        }
        return FetchedFile(entity: entity, name: name, path: path, isTemporary: temporary,
                           sha256: SHA256.hex(digest.finalize()), bytes: total)
    }

    private func download(_ url: String, entity: EntityKind?, using transfer: CurlTransfer) throws -> FetchedFile {
        let directory = (configuration.database as NSString).deletingLastPathComponent
        let temp = (directory.isEmpty ? "." : directory) + "/.sisync-download-\(getpid())-\(entity?.rawValue ?? "document")"
        var request = CurlTransfer.Request(url: url, timeoutSeconds: configuration.timeout.seconds,
                                           maxBytes: configuration.maxBytes, caFile: configuration.caFile)
        if let token = try bearerToken() { request.headers.append("Authorization: Bearer \(token)") }
        do {
            let status = try transfer.get(request, to: temp, stop: stop)
            guard (200..<300).contains(status) else { throw FetchError.httpStatus(url: url, status: status) }
            return try hashLocal(path: temp, name: url, entity: entity, temporary: true)
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    /// Reads the bearer token from `token_file` (relative names in $CREDENTIALS_DIRECTORY).
    func bearerToken() throws(FetchError) -> String? {
        guard configuration.auth == .bearer, let name = configuration.tokenFile else { return nil }
        guard let path = Self.credentialPath(name) else {
            throw .credential(path: name, key: "token_file",
                              reason: "the name is relative but $CREDENTIALS_DIRECTORY is not set (sisyncd is not running under systemd with LoadCredential=); give an absolute path")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .credential(path: path, key: "token_file", reason: "missing or unreadable")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .credential(path: path, key: "token_file", reason: "the file is empty") }
        return token
    }

    /// Secret files: absolute paths as given, relative names in $CREDENTIALS_DIRECTORY
    /// (systemd `LoadCredential=`); nil when a relative name has no credentials directory.
    static func credentialPath(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if name.hasPrefix("/") { return name }
        guard let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty else { return nil }
        return (dir as NSString).appendingPathComponent(name)
    }
}
