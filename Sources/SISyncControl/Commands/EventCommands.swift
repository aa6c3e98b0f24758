import Foundation
import SISync

/// `sisyncctl events`: the change feed by cursor (docs/events.md), for scripts.
struct EventsCommand: ControlSubcommand {
    static let name = "events"
    static let options: [CommandOption] = [
        .value("after", "N"), .value("types", "LIST"), .value("limit", "N"), .flag("follow"),
    ]
    static let help = """
        Prints the change feed's events after the cursor --after N (default 0), oldest first: at most --limit N \
        (default 100), of the --types given (a comma list such as staff.deactivated,link.*; docs/events.md lists them). \
        --follow keeps printing events as they commit (with --json one JSON object per line; with --limit N it \
        stops after N). A cursor older than what [events] keep_days and max_events keep is exit 65, naming the \
        head to continue from after re-reading the state.
        """
    static let example = "sisyncctl events --after 1042 --types staff.*,link.* --follow --json"
    let call: CommandCall

    /// Events a page asks for while following.
    static let followPage = 500

    func run() throws -> Int32 {
        guard let after = Int64(args.value("after") ?? "0"), after >= 0 else {
            return usageError("--after takes an event id (0 or more), not `\(args.value("after") ?? "")`")
        }
        let filter: EventTypeFilter
        do { filter = try EventTypeFilter(parsing: args.value("types") ?? "") } catch { return usageError("--types: \(error)") }
        let limit = try ListLimit.parse(args.value("limit"))
        let store = try openStore(args)
        let json = args.flag("json")
        guard args.flag("follow") else {
            let page = try store.events.events(after: after, limit: limit ?? 100, filter: filter)
            if json {
                console.out("{\"events\":[" + page.events.map(\.json).joined(separator: ",") + "],\"next\":\(page.next),\"head\":\(page.head)}\n")
            } else {
                console.out(page.events.map(line).joined() + "next \(page.next), head \(page.head)\n")
            }
            return 0
        }
        // Follow: page after page, waiting for the next commit when caught up.
        var cursor = after, printed = 0
        while true {
            let page = try store.events.events(after: cursor, limit: Self.followPage, filter: filter)
            for e in page.events {
                console.out(json ? e.json + "\n" : line(e))
                printed += 1
                if let limit, printed >= limit { return 0 }
            }
            cursor = page.next
            if page.events.isEmpty { _ = try store.events.waitForEvents(after: cursor, timeout: 30) }
        }
    }

    /// `1043 2026-12-01 09:15:00 CET staff.deactivated {"staff_id":"S1"} {"reason":"absent"}`
    private func line(_ e: FeedEvent) -> String {
        PrintableText.line("\(e.id) \(LocalTime.text(stored: e.at)) \(e.type) \(e.subject) \(e.data)") + "\n"
    }
}
