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
    /// HTTP validators of the download, saved after a successful run (R3).
    public var etag: String? = nil
    public var lastModified: String? = nil
    /// The server answered 304: the file is the one the last run applied (not downloaded).
    public var notModified = false
    /// For OneRoster: which file of the bundle (`manifest`, `users` ...) or which REST
    /// collection page (`users`, with `page`) this is.
    public var oneRoster: String? = nil
    public var page = 0
}

/// What the last successful run got from a URL, for a conditional GET (R3).
public struct SourceValidator: Sendable, Equatable {
    public var etag: String?
    public var lastModified: String?
    public var sha256: String
    public init(etag: String?, lastModified: String?, sha256: String) {
        self.etag = etag
        self.lastModified = lastModified
        self.sha256 = sha256
    }
}

/// The files of one export, ready to parse, with the digest R3 compares.
public struct FetchedExport: Sendable {
    public let format: SourceFormat
    public let files: [FetchedFile]
    public let contentHash: String
    /// A OneRoster bundle's manifest, read while fetching (it says which files to get).
    public var manifest: OneRosterManifest? = nil
    /// A OneRoster REST roster, read page by page while fetching.
    public var roster: OneRosterRoster? = nil

    public init(format: SourceFormat, files: [FetchedFile], contentHash: String, manifest: OneRosterManifest? = nil) {
        self.format = format
        self.files = files
        self.contentHash = contentHash
        self.manifest = manifest
    }

    /// The same export without the files of `entities` (which are then not read).
    public func without(_ entities: [EntityKind]) -> FetchedExport {
        guard !entities.isEmpty else { return self }
        var e = FetchedExport(format: format, files: files.filter { f in f.entity.map { !entities.contains($0) } ?? true }, contentHash: contentHash, manifest: manifest)
        e.roster = roster
        return e
    }

    /// Removes the downloaded and unpacked files early (the run's directory goes at its end anyway).
    public func removeTemporaryFiles(in directory: RunDirectory) {
        for f in files where f.isTemporary { directory.remove(path: f.path) }
    }
}

/// Gets the export the configuration names: local paths and `file://` URLs are read in
/// place; `http(s)://` URLs are downloaded into the run's private directory.
public struct ExportFetcher {
    public let configuration: Configuration
    /// Where downloads, unpacked zip entries and the OAuth token response go (items 2, 3, 5 of issue 26).
    public let directory: RunDirectory
    public let stop: StopSignal?
    /// Validators for a conditional GET, per URL; only for files the database still mirrors.
    public var validators: [String: SourceValidator] = [:]
    public var log: EventLog?
    public var tokenCache = OAuthTokenCache.shared
    /// How long a transfer may crawl under 1 KiB/s before it is aborted.
    public var lowSpeedSeconds = 30
    /// Waits between attempts (tests replace it to record instead of sleeping).
    public var retryPolicy: RetryPolicy
    /// What else a OneRoster translation depends on (the school year and the day), so that
    /// an unchanged export is translated again when they change (R3).
    public var translationBasis = ""
    /// The OneRoster translation's rule for enrollments: a REST roster's enrollments are
    /// judged as their pages arrive, not kept (`OneRosterRoster.add`). Nil: they are kept.
    public var enrollmentRule: OneRosterEnrollmentRule?
    /// Whether a REST roster's users are written to the run's directory as their pages
    /// arrive (`OneRosterRoster.userSpill`) rather than held.
    public var spillsUsers = false

    public init(configuration: Configuration, directory: RunDirectory, stop: StopSignal? = nil, log: EventLog? = nil) {
        self.configuration = configuration
        self.directory = directory
        self.stop = stop
        self.log = log
        retryPolicy = RetryPolicy(retries: configuration.retries)
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
        case .json, .oneRosterCSV, .oneRosterREST:
            return [(nil, c.url ?? "")]
        }
    }

    public func fetch() throws -> FetchedExport {
        switch configuration.format {
        case .oneRosterCSV: return try fetchOneRosterBundle()
        case .oneRosterREST: return try fetchOneRosterAPI()
        case .csv, .json: break
        }
        var files: [FetchedFile] = []
        var transfer: CurlTransfer?
        let locations = try locations()
        if let local = Self.localFiles(locations) {
            let files = try LocalFileDigests(files: local, maxBytes: configuration.maxBytes, stop: stop).compute()
            return FetchedExport(format: configuration.format, files: files,
                                 contentHash: Self.contentHash(format: configuration.format, files: files.map { ($0.entity, $0.sha256) }))
        }
        do {
            for (entity, location) in locations {
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
            FetchedExport(format: configuration.format, files: files, contentHash: "").removeTemporaryFiles(in: directory)
            throw error
        }
        return FetchedExport(format: configuration.format, files: files,
                             contentHash: Self.contentHash(format: configuration.format, files: files.map { ($0.entity, $0.sha256) }))
    }

    /// The export's digest (R3): its format and each file's SHA-256.
    public static func contentHash(format: SourceFormat, files: [(EntityKind?, String)]) -> String {
        var combined = SHA256()
        combined.update(Array("sisync-export \(format.rawValue)\n".utf8))
        for (entity, sha) in files {
            combined.update(Array("\(entity?.rawValue ?? "document") \(sha)\n".utf8))
        }
        return SHA256.hex(combined.finalize())
    }

    /// Every location's local path, when all are local files (nil when one is to be
    /// downloaded or is not a location sisync reads: then the files are fetched in turn,
    /// and the first location's error is the one reported, as always).
    static func localFiles(_ locations: [(EntityKind?, String)]) -> [LocalFileDigests.File]? {
        var out: [LocalFileDigests.File] = []
        for (entity, location) in locations {
            let lower = location.lowercased()
            if lower.hasPrefix("file://") {
                guard let url = URL(string: location), url.isFileURL else { return nil }
                out.append(.init(entity: entity, path: url.path, name: location))
            } else if lower.contains("://") {
                return nil
            } else {
                out.append(.init(entity: entity, path: location, name: location))
            }
        }
        return out
    }

    func hashLocal(path: String, name: String, entity: EntityKind?, temporary: Bool) throws -> FetchedFile {
        try Self.hashLocal(path: path, name: name, entity: entity, temporary: temporary, maxBytes: configuration.maxBytes)
    }

    static func hashLocal(path: String, name: String, entity: EntityKind?, temporary: Bool, maxBytes: Int64) throws -> FetchedFile {
        let file = try InputFile(path: path)
        var digest = SHA256()
        var total: Int64 = 0
        try file.forEachChunk { chunk in
            total += Int64(chunk.count)
            if total > maxBytes { throw FetchError.tooLarge(url: name, limit: maxBytes) }
            digest.update(chunk)
        }
        return FetchedFile(entity: entity, name: name, path: path, isTemporary: temporary,
                           sha256: SHA256.hex(digest.finalize()), bytes: total)
    }

    func download(_ url: String, entity: EntityKind?, label: String? = nil, using transfer: CurlTransfer) throws -> FetchedFile {
        let temp = try directory.create(label ?? entity?.rawValue ?? "document")
        do {
            let file = try attempts(url, entity: entity, to: temp, using: transfer)
            if file.notModified { directory.remove(temp) }
            return file
        } catch {
            directory.remove(temp)
            throw error
        }
    }

    /// Tries a download until it succeeds, fails for good, or runs out of retries. With
    /// `origin`, redirects are followed here, and only within it (a OneRoster API: the
    /// credential goes with every request); `maxBytes` lowers the size cap (what is left
    /// of the API's total).
    func attempts(_ url: String, entity: EntityKind?, to temp: RunFile, using transfer: CurlTransfer,
                  headers extra: [String] = [], origin: SourceOrigin? = nil, maxBytes: Int64? = nil,
                  check: ((CurlTransfer.Response) throws -> Void)? = nil) throws -> FetchedFile {
        var attempt = 0
        var tokenRefreshed = false
        var url = url
        var redirects = 0
        while true {
            attempt += 1
            var request = CurlTransfer.Request(url: url, timeoutSeconds: configuration.timeout.seconds,
                                               maxBytes: min(maxBytes ?? configuration.maxBytes, configuration.maxBytes), caFile: configuration.caFile)
            request.lowSpeedSeconds = lowSpeedSeconds
            request.followRedirects = origin == nil
            request.auth = try authentication(using: transfer, refresh: false)
            request.headers += extra
            let validator = validators[url]
            if let v = validator {
                if let e = v.etag { request.headers.append("If-None-Match: \(e)") }
                if let m = v.lastModified { request.headers.append("If-Modified-Since: \(m)") }
            }
            let response: CurlTransfer.Response
            do {
                response = try transfer.perform(request, into: temp, stop: stop)
            } catch {
                if Self.isTransient(error) && attempt <= retryPolicy.retries {
                    try pause(before: attempt + 1, after: error.description, retryAfter: nil, url: url)
                    continue
                }
                throw attempt > 1 ? FetchError.afterAttempts(attempt, error) : error
            }
            switch response.status {
            case 304 where validator != nil:
                return FetchedFile(entity: entity, name: url, path: "", isTemporary: false, sha256: validator!.sha256, bytes: 0,
                                   etag: response.etag ?? validator!.etag, lastModified: response.lastModified ?? validator!.lastModified,
                                   notModified: true)
            case 200..<300:
                try Self.checkBody(format: configuration.format, response: response, url: url)
                try check?(response)
                var file = try hashLocal(path: temp.path, name: url, entity: entity, temporary: true)
                file.etag = response.etag
                file.lastModified = response.lastModified
                return file
            case 300..<400 where origin != nil && response.location != nil:
                guard let next = origin!.resolve(response.location!, against: url) else {
                    throw FetchError.offOrigin(url: url, what: "redirect (HTTP \(response.status))", link: response.location!, origin: origin!.description)
                }
                redirects += 1
                if redirects > 5 { throw FetchError.httpStatus(url: url, status: response.status) }
                url = next
                attempt -= 1
                continue
            case 401 where configuration.auth == .oauth2 && !tokenRefreshed:
                // The cached access token may have been revoked early: fetch a new one, once.
                tokenRefreshed = true
                tokenCache.forget(try oauthKey(secret: clientSecret(SourceCredentials(configuration: configuration, log: log))))
                attempt -= 1
                continue
            case let status where RetryPolicy.isRetryable(status: status) && attempt <= retryPolicy.retries:
                try pause(before: attempt + 1, after: "HTTP \(status)", retryAfter: response.retryAfter, url: url)
                continue
            default:
                let e = FetchError.httpStatus(url: url, status: response.status)
                throw attempt > 1 ? FetchError.afterAttempts(attempt, e) : e
            }
        }
    }

    static func isTransient(_ e: FetchError) -> Bool {
        if case .transfer(_, let code, _) = e { return CurlTransfer.isTransient(code: code) }
        return false
    }

    /// Waits before another attempt, in short steps so that a stop is noticed at once.
    private func pause(before attempt: Int, after problem: String, retryAfter: String?, url: String) throws {
        let delay = retryPolicy.delay(afterAttempt: attempt - 1, retryAfter: retryAfter)
        log?.log(LogEvent(.fetchFailed, .warning, "\(url): \(problem); attempt \(attempt) of \(retryPolicy.retries + 1) in \(String(format: "%.1f", delay)) s"))
        let until = Date().addingTimeInterval(delay)
        while Date() < until {
            if let stop, stop.isStopping { throw FetchError.aborted(url: url) }
            Thread.sleep(forTimeInterval: min(0.05, max(0, until.timeIntervalSinceNow)))
        }
    }

    /// An HTML page (an SSO login), or a body that cannot be the configured format, fails
    /// the run with what came back, instead of a parse error or, worse, an empty roster.
    static func checkBody(format: SourceFormat, response: CurlTransfer.Response, url: String) throws(FetchError) {
        var head = response.head[...]
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { head = head.dropFirst(3) }
        let start = head.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let type = (response.contentType ?? "").lowercased()
        let html = type.hasPrefix("text/html") || type.hasPrefix("application/xhtml") || start.first == UInt8(ascii: "<")
        let wrong: Bool
        switch format {
        case .json: wrong = html || (start.first.map { $0 != UInt8(ascii: "{") } ?? false)
        default: wrong = html
        }
        guard wrong else { return }
        let shown = String(decoding: start.prefix(24), as: UTF8.self).map { $0.isNewline ? " " : $0 }
        throw .unexpectedBody(url: url, contentType: response.contentType ?? "no content type", bytes: response.bytes, start: String(shown))
    }

    /// Which cached token a request may use. The secret's digest is part of it: tenants share
    /// one process and its cache, and a tenant with another tenant's token_url and client_id
    /// but its own secret (or none) must ask for its own token, not be handed the other's
    /// and send it to its own server. A secret file replaced before a reload counts too.
    private func oauthKey(secret: String) -> String {
        "\(configuration.tokenURL ?? "") \(configuration.clientID ?? "") \(configuration.scope ?? "") \(SHA256.hex(of: Array(secret.utf8)))"
    }

    /// The OAuth2 client secret, read from its file for every request, like a bearer token.
    private func clientSecret(_ credentials: SourceCredentials) throws -> String {
        guard configuration.tokenURL != nil, configuration.clientID != nil, let secretFile = configuration.clientSecretFile else {
            throw FetchError.credential(path: configuration.path, key: "token_url", reason: "auth = oauth2 needs token_url, client_id and client_secret_file")
        }
        return try credentials.secret(secretFile, key: "client_secret_file")
    }

    /// The credentials of a request, read from their files (and an OAuth token, cached).
    func authentication(using transfer: CurlTransfer, refresh: Bool) throws -> CurlTransfer.Auth {
        let credentials = SourceCredentials(configuration: configuration, log: log)
        switch configuration.auth {
        case .none:
            return .none
        case .bearer:
            guard let name = configuration.tokenFile else { return .none }
            return .bearer(try credentials.secret(name, key: "token_file"))
        case .basic:
            guard let user = configuration.username, let file = configuration.passwordFile else { return .none }
            return .basic(user: user, password: try credentials.secret(file, key: "password_file"))
        case .oauth2:
            let secret = try clientSecret(credentials)
            if let cached = tokenCache.token(for: oauthKey(secret: secret), now: Date()) { return .bearer(cached) }
            return .bearer(try fetchAccessToken(using: transfer, secret: secret))
        }
    }

    /// OAuth 2.0 client credentials: POST to `token_url`, keep the token until a minute
    /// before `expires_in`.
    private func fetchAccessToken(using transfer: CurlTransfer, secret: String) throws -> String {
        guard let tokenURL = configuration.tokenURL, let clientID = configuration.clientID else {
            throw FetchError.credential(path: configuration.path, key: "token_url", reason: "auth = oauth2 needs token_url, client_id and client_secret_file")
        }
        func form(_ s: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        var body = "grant_type=client_credentials&client_id=\(form(clientID))&client_secret=\(form(secret))"
        if let scope = configuration.scope { body += "&scope=\(form(scope))" }
        var request = CurlTransfer.Request(url: tokenURL, timeoutSeconds: configuration.timeout.seconds, maxBytes: 1 << 20, caFile: configuration.caFile)
        request.formBody = body
        request.headers = ["Accept: application/json"]
        request.followRedirects = false
        // The response holds the token: 0600 in the run's directory, removed at once.
        let temp = try directory.create("token.json")
        defer { directory.remove(temp) }
        let response = try transfer.perform(request, into: temp, stop: stop)
        if (300..<400).contains(response.status) {
            throw FetchError.tokenRedirected(url: tokenURL, status: response.status, location: response.location)
        }
        guard (200..<300).contains(response.status) else { throw FetchError.httpStatus(url: tokenURL, status: response.status) }
        guard let data = FileManager.default.contents(atPath: temp.path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let token = json["access_token"] as? String, !token.isEmpty else {
            throw FetchError.noAccessToken(url: tokenURL, contentType: response.contentType ?? "no content type", bytes: response.bytes)
        }
        let lifetime = (json["expires_in"] as? Double) ?? (json["expires_in"] as? String).flatMap(Double.init) ?? 3600
        tokenCache.store(token, for: oauthKey(secret: secret), expires: Date().addingTimeInterval(max(0, lifetime - 60)))
        return token
    }

    /// Where systemd's `LoadCredential=NAME` takes a credential from when no path is given.
    public static let credentialStore = "/etc/credstore"

    /// Secret files (README, "Install and run as a service", Secrets): absolute paths as given; relative names in
    /// `$CREDENTIALS_DIRECTORY` (the service, with `LoadCredential=`), or, when that is unset
    /// (an administrator's shell running `sisyncctl sync`), in `/etc/credstore/`, the
    /// directory `LoadCredential=` reads them from, so both find the same file.
    static func credentialPath(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                               store: String = credentialStore) -> String {
        if name.hasPrefix("/") { return name }
        if let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty { return (dir as NSString).appendingPathComponent(name) }
        return (store as NSString).appendingPathComponent(name)
    }
}
