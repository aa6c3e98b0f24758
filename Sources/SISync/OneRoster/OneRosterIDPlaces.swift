/// Where each id was first read (a line of users.csv, an index in the REST collection), to
/// refuse a user given twice with the place of its first (R2). The ids are numbered
/// (`OneRosterIDs`): as a `[String: Int]`, a district's 570,000 users with 36-character UUIDs
/// for ids took about 50 MB while they were read, five times that with five times the users.
struct OneRosterIDPlaces {
    private var ids = OneRosterIDs()
    /// A line or an index: under 2^32, as the file or roster they are in (`max_bytes`).
    private var places = FlatArray<UInt32>()

    /// How many ids it holds.
    var count: Int { places.count }

    /// Where `id` was first read, if it was; else nil, and `place` is now where it was.
    mutating func earlier(_ id: String, than place: Int) -> Int? {
        let n = Int(ids.number(id))
        if n < places.count { return Int(places[n]) }
        places.append(UInt32(clamping: place))
        return nil
    }
}
