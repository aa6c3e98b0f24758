import Foundation

/// Fetching OneRoster exports: a CSV bundle (a directory, a directory URL, or a `.zip`) or
/// the REST API, paged. Every file or page is local and hashed before anything is parsed,
/// so a failed download fails the run with nothing applied (R1).
extension ExportFetcher {
    func fetchOneRosterBundle() throws -> FetchedExport {
        guard let url = configuration.url else { throw OneRosterError.notADirectoryOrZip(location: "(no url)") }
        var files: [FetchedFile] = []
        var manifest: OneRosterManifest?
        do {
            let lower = url.lowercased()
            let remote = lower.hasPrefix("http://") || lower.hasPrefix("https://")
            if lower.hasSuffix(".zip") {
                try fetchZipBundle(url, remote: remote, files: &files, manifest: &manifest)
            } else if remote {
                let transfer = try CurlTransfer()
                let base = url.hasSuffix("/") ? url : url + "/"
                let m = try download(base + "manifest.csv", entity: nil, label: "manifest.csv", using: transfer)
                files.append(tagged(m, "manifest"))
                manifest = try OneRosterManifest.read(path: m.path, name: base + "manifest.csv")
                for f in OneRosterFile.allCases where manifest!.mode(f) != .absent {
                    if let stop, stop.isStopping { throw FetchError.aborted(url: url) }
                    do {
                        files.append(tagged(try download(base + f.fileName, entity: nil, label: f.fileName, using: transfer), f.rawValue))
                    } catch FetchError.httpStatus(_, 404) {
                        throw OneRosterError.missingFile(location: url, file: f.fileName, mode: manifest!.mode(f).rawValue)
                    }
                }
            } else {
                var directory = url
                if lower.hasPrefix("file://") {
                    guard let u = URL(string: url), u.isFileURL else { throw FetchError.unsupportedURL(url: url) }
                    directory = u.path
                }
                try fetchLocalBundle(directory, shownAs: url, files: &files, manifest: &manifest)
            }
        } catch {
            FetchedExport(format: configuration.format, files: files, contentHash: "").removeTemporaryFiles(in: directory)
            throw error
        }
        return FetchedExport(format: configuration.format, files: files, contentHash: oneRosterHash(files), manifest: manifest)
    }

    /// A local directory: file names match in any case (`academicsessions.csv` too).
    private func fetchLocalBundle(_ directory: String, shownAs: String, files: inout [FetchedFile], manifest: inout OneRosterManifest?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            if FileManager.default.fileExists(atPath: directory) { throw OneRosterError.notADirectoryOrZip(location: shownAs) }
            throw FetchError.unreadableFile(path: directory, reason: "no such directory")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var byLower: [String: String] = [:]
        for n in names { byLower[n.lowercased()] = n }
        guard let manifestName = byLower["manifest.csv"] else { throw OneRosterError.missingManifest(location: shownAs) }
        let manifestPath = (directory as NSString).appendingPathComponent(manifestName)
        files.append(tagged(try hashLocal(path: manifestPath, name: manifestPath, entity: nil, temporary: false), "manifest"))
        let m = try OneRosterManifest.read(path: manifestPath, name: manifestName)
        manifest = m
        for f in OneRosterFile.allCases where m.mode(f) != .absent {
            guard let actual = byLower[f.fileName.lowercased()] else {
                throw OneRosterError.missingFile(location: shownAs, file: f.fileName, mode: m.mode(f).rawValue)
            }
            let path = (directory as NSString).appendingPathComponent(actual)
            files.append(tagged(try hashLocal(path: path, name: path, entity: nil, temporary: false), f.rawValue))
        }
    }

    func tagged(_ file: FetchedFile, _ name: String, page: Int = 0) -> FetchedFile {
        var f = file
        f.oneRoster = name
        f.page = page
        return f
    }

    /// R3 for OneRoster: every file's or page's digest, plus what the translation depends on.
    func oneRosterHash(_ files: [FetchedFile]) -> String {
        var combined = SHA256()
        combined.update(Array("sisync-export \(configuration.format.rawValue)\n\(translationBasis)\n".utf8))
        for f in files { combined.update(Array("\(f.oneRoster ?? "?") \(f.page) \(f.sha256)\n".utf8)) }
        return SHA256.hex(combined.finalize())
    }
}

extension ExportFetcher {
    /// The REST API: each collection paged with `limit`/`offset`, following `Link:
    /// rel="next"` when the server sends one. `X-Total-Count` is checked against what
    /// arrived: a truncated roster fails the run and never deactivates anyone.
    func fetchOneRosterAPI() throws -> FetchedExport {
        guard var base = configuration.url else { throw OneRosterError.notADirectoryOrZip(location: "(no url)") }
        while base.hasSuffix("/") { base.removeLast() }
        // Configuration.parse refuses a url without an origin; this is for one built in code.
        guard let origin = SourceOrigin(base) else { throw FetchError.unsupportedURL(url: base) }
        let version: OneRosterManifest.Version = base.lowercased().contains("v1p2") ? .v1_2 : .v1_1
        var roster = OneRosterRoster(version: version, modes: Dictionary(uniqueKeysWithValues: OneRosterAPIPage.collections.map { ($0, .bulk) }))
        roster.usersSource = base + "/users"
        roster.enrollmentRule = enrollmentRule
        roster.judgedEnrollments = OneRosterCurrentEnrollments(directory: directory, source: base + "/enrollments")
        if spillsUsers { roster.userSpill = OneRosterUserSpill(file: try directory.create("users.spill")) }
        var files: [FetchedFile] = []
        defer { FetchedExport(format: configuration.format, files: files, contentHash: "").removeTemporaryFiles(in: directory) }
        let transfer = try CurlTransfer()
        // max_bytes bounds the pages together, not each page: a server that never stops
        // paging must not fill the disk or the memory the roster is read into.
        var totalBytes: Int64 = 0
        for collection in OneRosterAPIPage.collections {
            if collection == .users { roster.userIDs = OneRosterDuplicateIDs(directory: directory, source: roster.usersSource) }
            var received = 0
            var page = 0
            var next: String? = "\(base)/\(collection.rawValue)?limit=\(configuration.pageSize)&offset=0"
            var visited: Set<String> = []
            var announced: Int?
            // A users page that fails after a user given twice: the duplicate is what a check in
            // reading order would have stopped at (R2), not the failure after it.
            do {
                while let url = next {
                    if let stop, stop.isStopping { throw FetchError.aborted(url: url) }
                    guard visited.insert(url).inserted else {
                        throw OneRosterError.wrongPage(url: url, message: "the server's next link points back to a page already read")
                    }
                    var link: String?
                    var total: String?
                    let temp = try directory.create("\(collection.rawValue)-\(page).json")
                    let file: FetchedFile
                    do {
                        file = try attempts(url, entity: nil, to: temp, using: transfer, headers: ["Accept: application/json"],
                                            origin: origin, maxBytes: configuration.maxBytes - totalBytes) { response in
                            link = response.link
                            total = response.totalCount
                        }
                    } catch let e as FetchError where totalBytes > 0 && e.isTooLarge {
                        directory.remove(temp)
                        throw FetchError.tooLargeInTotal(url: base, limit: configuration.maxBytes)
                    } catch let FetchError.httpStatus(u, status) where status != 401 && status != 403 {
                        // An error body says why (imsx_StatusInfo); the status alone rarely does.
                        defer { directory.remove(temp) }
                        if let data = FileManager.default.contents(atPath: temp.path),
                           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                           let failure = OneRosterAPIPage.statusFailure(object) {
                            throw OneRosterError.serverError(url: u, status: "HTTP \(status), \(failure.status)", description: failure.description)
                        }
                        throw FetchError.httpStatus(url: u, status: status)
                    }
                    files.append(tagged(file, collection.rawValue, page: page))
                    totalBytes += file.bytes
                    guard let data = FileManager.default.contents(atPath: file.path) else {
                        throw FetchError.unreadableFile(path: file.path, reason: "the downloaded page disappeared")
                    }
                    let count = try OneRosterAPIPage.read(data, collection: collection, url: url, firstIndex: received, into: &roster)
                    directory.remove(temp)
                    received += count
                    page += 1
                    if let total {
                        guard let n = Int(total.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                            throw OneRosterError.wrongPage(url: url, message: "X-Total-Count `\(total)` is not a number")
                        }
                        announced = n
                    }
                    let links = link.map(LinkHeader.init)
                    if let target = links?.next {
                        // The server names this URL: it must stay on the configured origin.
                        guard let resolved = origin.resolve(target, against: url) else {
                            throw FetchError.offOrigin(url: url, what: "next link (Link: rel=\"next\")", link: target, origin: origin.description)
                        }
                        next = resolved
                    } else if let announced {
                        if received >= announced { next = nil }
                        else if count == 0 { throw OneRosterError.shortRead(url: url, expected: announced, received: received) }
                        else { next = "\(base)/\(collection.rawValue)?limit=\(configuration.pageSize)&offset=\(received)" }
                    } else if let links, !links.unreadable.isEmpty {
                        // Stopping here could cut the roster short with no total to notice it;
                        // the header is not shown, as it may carry a session id.
                        throw OneRosterError.wrongPage(url: url, message: "the server's Link header cannot be read (RFC 8288 expects `<URL>; rel=\"next\"`), so whether another page follows is unknown; the server's vendor must fix it")
                    } else if link == nil && count >= configuration.pageSize {
                        next = "\(base)/\(collection.rawValue)?limit=\(configuration.pageSize)&offset=\(received)"
                    } else {
                        next = nil
                    }
                    if page > 1_000_000 { throw OneRosterError.wrongPage(url: url, message: "more than a million pages") }
                }
            } catch {
                if collection == .users { try roster.refuseDuplicateUsers() }
                throw error
            }
            // Every user is read: a user given twice fails the run (R2), and the ids sorted to
            // find it are let go.
            if collection == .users { try roster.refuseDuplicateUsers() }
            if let announced, received < announced {
                throw OneRosterError.shortRead(url: "\(base)/\(collection.rawValue)", expected: announced, received: received)
            }
        }
        // Pages are parsed as they arrive (to know whether another follows) and removed.
        var export = FetchedExport(format: configuration.format, files: files, contentHash: oneRosterHash(files))
        export.roster = roster
        return export
    }
}
