import Foundation
import SISync

// The applications' clients of sisync-api: each has a bearer token, shown once, and the
// scopes it may use. The store keeps only the token's SHA-256.

/// `api client add NAME --scopes read,login,pair,forms`.
struct APIClientAddCommand: ControlSubcommand {
    static let name = "api client add"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let options: [CommandOption] = [.value("scopes", "LIST")]
    static let synopsis = ["api client add NAME --scopes \(APIScope.allCases.map(\.rawValue).joined(separator: ","))"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Adds a client of sisync-api and prints its bearer token once: 256 random bits, of which the store keeps \
        only the SHA-256, so a lost token is replaced by revoking the client and adding it again. --scopes says \
        what it may do: read (users and staff), login (check passwords, with the lockout), pair (parents by \
        access code), forms (what a user may do with a form), events (the change feed), scim (identity providers' SCIM 2.0, docs/scim.md). The change log records who added it.
        """
    static let example = "sisyncctl api client add gradebook --scopes read,login"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        guard let list = args.value("scopes") else { return "missing --scopes LIST" }
        do { _ = try APIScope.parse(list: list) } catch { return error.description }
        return nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        guard let list = args.value("scopes") else { return usageError() }
        let scopes: Set<APIScope>
        do { scopes = try APIScope.parse(list: list) } catch { return usageError() }
        let (client, token) = try openStore(args).apiClients.add(name: words[0], scopes: scopes, actor: actor, now: Date())
        log.log(LogEvent(.apiClient, .notice, "\(actor) added API client \(client.name) with scopes \(APIScope.list(client.scopes))"))
        emit(args, json: {
            .object(APIClientListCommand.json(client) + [("token", .string(token))])
        }, text: {
            "API client \(client.name) added with scopes \(APIScope.list(client.scopes)). Its token, shown only now:\n\n  \(token)\n\n"
                + "Give it to the application (Authorization: Bearer …) through a file only it can read.\n"
        })
        return 0
    }
}

/// `api client list`.
struct APIClientListCommand: ControlSubcommand {
    static let name = "api client list"
    static let help = "Lists the clients of sisync-api: name, scopes, when and by whom added, and when last used (written at most once a minute)."
    static let example = "sisyncctl api client list"
    let call: CommandCall

    func run() throws -> Int32 {
        let clients = try openStore(args).apiClients.list()
        emit(args, json: { .array(clients.map { .object(Self.json($0)) }) }, text: {
            guard !clients.isEmpty else { return "no API clients; `sisyncctl api client add NAME --scopes …` adds one\n" }
            var t = TextTable(["client", "scopes", "added", "by", "last used"], whole: ["added", "last used"])
            for c in clients {
                t.add([c.name, APIScope.list(c.scopes), LocalTime.text(stored: c.createdAt), c.createdBy, c.lastUsedAt.map(LocalTime.text(stored:)) ?? "never"])
            }
            return t.rendered()
        })
        return 0
    }

    static func json(_ c: APIClient) -> [(String, JSONValue)] {
        [("name", .string(c.name)), ("scopes", .array(c.scopes.sorted().map { .string($0.rawValue) })),
         ("created_at", .string(c.createdAt)), ("created_by", .string(c.createdBy)), ("last_used_at", .string(c.lastUsedAt))]
    }
}

/// `api client revoke NAME`.
struct APIClientRevokeCommand: ControlSubcommand {
    static let name = "api client revoke"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Revokes a client of sisync-api: its token stops working within 5 seconds (each sisync-api process \
        keeps its clients for at most that long). The change log keeps what the client did.
        """
    static let example = "sisyncctl api client revoke gradebook"
    let call: CommandCall

    func run() throws -> Int32 {
        try openStore(args).apiClients.revoke(name: words[0], actor: actor, now: Date())
        log.log(LogEvent(.apiClient, .notice, "\(actor) revoked API client \(words[0])"))
        emit(args, json: { .object([("name", .string(words[0])), ("revoked", .bool(true))]) },
             text: { "API client \(words[0]) revoked; its token stops working within 5 seconds\n" })
        return 0
    }
}
