/// One event of the change feed as readers get it (docs/events.md): `subject` and `data`
/// are JSON objects, kept as the text that was written.
public struct FeedEvent: Sendable, Equatable {
    /// The cursor: only grows.
    public var id: Int64
    public var type: String
    public var at: String
    public var runID: Int64?
    public var actor: String
    public var subject: String
    public var data: String

    public init(id: Int64, type: String, at: String, runID: Int64?, actor: String, subject: String, data: String) {
        self.id = id
        self.type = type
        self.at = at
        self.runID = runID
        self.actor = actor
        self.subject = subject
        self.data = data
    }

    /// The event as the feed gives it: one line of compact JSON, the body a webhook posts.
    public var json: String {
        func quoted(_ s: String) -> String { JSONValue.string(s).rendered(pretty: false) }
        return "{\"id\":\(id),\"type\":\(quoted(type)),\"at\":\(quoted(at)),\"run_id\":\(runID.map { String($0) } ?? "null")"
            + ",\"actor\":\(quoted(actor)),\"subject\":\(subject),\"data\":\(data)}"
    }
}
