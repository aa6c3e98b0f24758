/// Where each name of a `sisyncctl user import` file (its usernames, or its emails), compared
/// lowercased, first appeared: the row, for the file's duplicate check.
///
/// Why a hash and a row per name, not the lowercased names: as dictionaries of the names, a
/// million users' checks held every username and email again, lowercased, beside the rows
/// (about 150 MB of the command's 540 MB peak; these tables hold about 67 MB; issue 34).
/// A name whose hash is already taken is compared with the name of the row that took it,
/// so two names that share a hash are still two names: the second is kept by its name, in
/// `others`.
struct FirstAppearances {
    private var rowByHash: [Int: Int]
    /// Names whose hash an earlier, different name has.
    private var others: [String: Int] = [:]
    private let hash: (String) -> Int

    /// `hash`: the names' hash (tests give one that names share).
    init(capacity: Int, hash: @escaping (String) -> Int = { $0.hashValue }) {
        rowByHash = Dictionary(minimumCapacity: capacity)
        self.hash = hash
    }

    /// The row on which `name` (lowercased) appeared first, if one did; if not, `row` is
    /// recorded as that row. `nameOn(earlier)` is the lowercased name of an earlier row.
    mutating func firstRow(of name: String, row: Int, nameOn: (Int) -> String) -> Int? {
        let h = hash(name)
        guard let first = rowByHash[h] else {
            rowByHash[h] = row
            return nil
        }
        if nameOn(first) == name { return first }
        if let other = others[name] { return other }
        others[name] = row
        return nil
    }
}
