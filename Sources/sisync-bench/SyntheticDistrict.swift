import Foundation

/// A deterministic synthetic district in the native CSV format (docs/export-format.md), for the
/// benchmark: accents, apostrophes, quoted commas and newlines, CRLF files and a BOM.
struct SyntheticDistrict {
    let scale: Double

    var staffCount: Int { Int(20_000 * scale) }
    var studentCount: Int { Int(300_000 * scale) }
    var householdCount: Int { Int(250_000 * scale) }
    var relationshipCount: Int { Int(400_000 * scale) }
    var applicantCount: Int { Int(30_000 * scale) }
    var donorCount: Int { Int(5_000 * scale) }
    var attributeCount: Int { Int(200_000 * scale) }
    var totalRows: Int { staffCount + studentCount + householdCount + relationshipCount + applicantCount + donorCount + attributeCount }

    static let first = ["Zoë", "José", "Siobhán", "François", "Björn", "Aisha", "Chen", "Mary", "Dmitri", "Núria", "Liam", "Olivia", "Noah", "Emma", "Łukasz", "Renée"]
    static let last = ["O'Brien", "Núñez", "D'Arcy", "Lefèvre", "Ødegård", "Okafor", "Wang", "Smith", "García", "Müller", "N'Diaye", "Kowalski", "Nguyen", "Patel", "Álvarez", "Lee"]
    static let titles = ["Teacher", "\"Teacher, Mathematics\"", "Aide", "Counselor", "\"Coach, \"\"Varsity\"\" Soccer\"", "Principal", "\"Teacher,\nScience\"", "Librarian"]

    /// Which export to write: the base day; the next day with about 1% of staff and student
    /// rows changed (the other five files as they were); or a day on which every one of
    /// the seven files changed (about 1% of each).
    /// `renumbered` is the base day under the ids a new SIS gives everyone (issue 33):
    /// every staff, student and household id prefixed `N`, wherever a file names one.
    enum Day { case base, changed, allChanged, renumbered }

    /// Writes the seven files into `directory`.
    func write(to directory: String, day: Day) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let n = day == .renumbered ? "N" : ""
        let day = day == .renumbered ? Day.base : day
        var out = try CSVFileWriter(path: directory + "/staff.csv", crlf: false, bom: true)
        out.line("staff_id,first_name,last_name,email,title,school_ids,status")
        for i in 0..<staffCount {
            // Base: the last 0.5% are inactive (staff who left). Changed day: 0.5% are gone,
            // half of the inactive ones are rehired, 0.25% renamed, 0.25% new email.
            let removed = day != .base && i % 200 == 7
            if removed { continue }
            let leftBefore = i >= staffCount - staffCount / 200
            let rehired = day != .base && leftBefore && i % 2 == 0
            let renamed = day != .base && i % 400 == 11
            let newEmail = day != .base && i % 400 == 13
            let f = Self.first[i % 16], l = Self.last[(i / 16) % 16]
            let last = renamed ? l + "-Smith" : l
            // Every 500th pair shares one email (the SIS has duplicates): those users stay unlinked.
            let emailOwner = i % 500 == 1 ? i - 1 : i
            let email = "staff\(emailOwner)\(newEmail ? ".new" : "")@district.example.org"
            let status = leftBefore && !rehired ? "inactive" : "active"
            out.line("\(n)S\(pad(i + 1, 6)),\(f),\(last),\(email),\(Self.titles[i % 8]),\(100 + i % 40);\(100 + (i / 40) % 40),\(status)")
        }
        try out.close()

        out = try CSVFileWriter(path: directory + "/students.csv", crlf: true, bom: false)
        out.line("student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year")
        let enrolledNew = day != .base ? studentCount / 600 : 0
        for i in 0..<(studentCount + enrolledNew) {
            let withdrawn = day != .base && i % 100 == 3 && i < studentCount
            let f = Self.first[(i / 3) % 16], l = Self.last[(i / 7) % 16]
            let email = "st\(i + 1)@students.riverside.example.org"
            out.line("\(n)ST\(pad(i + 1, 7)),\(f),\(l),\(email),\(100 + i % 40),\(i % 13),\(withdrawn ? "Withdrawn" : "Enrolled"),2026-2027")
        }
        try out.close()

        out = try CSVFileWriter(path: directory + "/households.csv", crlf: true, bom: false)
        out.line("household_id,name")
        // On an every-file day, 1% of each of the five other files changes too.
        let every = day == .allChanged
        for i in 0..<householdCount {
            out.line("\(n)H\(pad(i + 1, 7)),The \(Self.last[i % 16])\(every && i % 100 == 5 ? "-Jones" : "") Family of \(Self.first[(i / 16) % 16])")
        }
        try out.close()

        out = try CSVFileWriter(path: directory + "/household_relationships.csv", crlf: false, bom: false)
        out.line("household_id,record_type,record_id,relationship")
        for i in 0..<relationshipCount {
            if i % 13 == 0 && i / 13 < applicantCount {
                out.line("\(n)H\(pad(i % householdCount + 1, 7)),applicant,A\(pad(i / 13 + 1, 6)),Parent")
            } else {
                let guardian = (i % 10 == 0) != (every && i % 100 == 7)
                out.line("\(n)H\(pad(i % householdCount + 1, 7)),student,\(n)ST\(pad(i % studentCount + 1, 7)),\(guardian ? "Guardian" : "Parent")")
            }
        }
        try out.close()

        out = try CSVFileWriter(path: directory + "/applicants.csv", crlf: false, bom: false)
        out.line("applicant_id,first_name,last_name,status,evaluator_staff_ids")
        let statuses = ["Inquiry", "Applied", "Accepted", "Copied"]
        for i in 0..<applicantCount {
            let status = statuses[(i + (every && i % 100 == 9 ? 1 : 0)) % 4]
            out.line("A\(pad(i + 1, 6)),\(Self.first[i % 16]),\(Self.last[(i / 5) % 16]),\(status),\(n)S\(pad(i % staffCount + 1, 6));\(n)S\(pad((i * 7) % staffCount + 1, 6))")
        }
        try out.close()

        out = try CSVFileWriter(path: directory + "/donors.csv", crlf: false, bom: false)
        out.line("donor_id,name,email")
        for i in 0..<donorCount { out.line("D\(pad(i + 1, 5)),\"\(Self.last[i % 16]), Family Trust\",donor\(i)\(every && i % 100 == 11 ? ".new" : "")@example.org") }
        try out.close()

        out = try CSVFileWriter(path: directory + "/attributes.csv", crlf: false, bom: false)
        out.line("record_type,record_id,attribute,school_year")
        let names = ["Honor Roll", "Bus Rider", "Athlete", "Gifted"]
        for i in 0..<attributeCount {
            // Unique keys: each student gets up to four attributes.
            // Every-file day: 1% of the attributes are gone and as many new ones appear.
            if every && i % 100 == 13 { continue }
            out.line("student,\(n)ST\(pad(i / 4 % studentCount + 1, 7)),\(names[i % 4]),\(i / 4 >= studentCount ? "2025-2026" : "2026-2027")")
        }
        if every {
            for i in stride(from: 13, to: attributeCount, by: 100) { out.line("student,ST\(pad(i / 4 % studentCount + 1, 7)),Robotics,2026-2027") }
        }
        try out.close()
    }

    /// A login account of the synthetic district, attached to at most one record.
    struct User {
        var username: String
        var email: String
        var attachment: (kind: String, id: String)?
    }

    /// About 207k users at scale 1: 90% of staff have a user whose email matches up to case
    /// and spaces, 2k users match no staff, 100k student users (every third student) and
    /// 87k parent users (households).
    func users() -> [User] {
        var out: [User] = []
        out.reserveCapacity(Int(207_000 * scale))
        for i in 0..<staffCount where i % 10 != 9 {
            var email = "staff\(i)@district.example.org"
            switch i % 4 {
            case 1: email = email.uppercased()
            case 2: email = " Staff\(i)@District.Example.org "
            default: break
            }
            out.append(User(username: "staff\(i)", email: email, attachment: nil))
        }
        for i in 0..<Int(2_000 * scale) { out.append(User(username: "former\(i)", email: "former\(i)@district.example.org", attachment: nil)) }
        for i in stride(from: 0, to: studentCount, by: 3) {
            out.append(User(username: "st\(i + 1)", email: "st\(i + 1)@students.riverside.example.org", attachment: ("student", "ST\(pad(i + 1, 7))")))
        }
        for i in 0..<Int(87_000 * scale) {
            let h = (i * 25 / 9) % householdCount  // spread over the households
            out.append(User(username: "family\(h + 1)", email: "family\(h + 1)@home.example.org", attachment: ("household", "H\(pad(h + 1, 7))")))
        }
        return out
    }

    /// The users as `sisyncctl user import` reads them (username, email, approved and the
    /// attachment columns), written to `path`.
    static func writeUserImport(_ users: [User], to path: String) throws {
        var out = try CSVFileWriter(path: path, crlf: false, bom: false)
        out.line("username,email,approved,student_id,household_id,donor_id")
        for u in users {
            let email = u.email.contains(",") || u.email.hasPrefix(" ") ? "\"\(u.email)\"" : u.email
            let student = u.attachment?.kind == "student" ? u.attachment!.id : ""
            let household = u.attachment?.kind == "household" ? u.attachment!.id : ""
            out.line("\(u.username),\(email),true,\(student),\(household),")
        }
        try out.close()
    }

    /// The day's new users (1% of the district's), for the every-file day: new parents of
    /// existing households.
    func newUsers() -> [User] {
        (0..<Int(2_070 * scale)).map { i in
            let h = (i * 97) % householdCount
            return User(username: "newparent\(i + 1)", email: "newparent\(i + 1)@home.example.org", attachment: ("household", "H\(pad(h + 1, 7))"))
        }
    }

    private func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// A buffered file writer: lines collect in 1 MiB and go to disk in large writes.
struct CSVFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let newline: [UInt8]

    init(path: String, crlf: Bool, bom: Bool) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw NSError(domain: "sisync-bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot write \(path)"])
        }
        handle = h
        newline = crlf ? [13, 10] : [10]
        buffer.reserveCapacity(1 << 20)
        if bom { buffer += [0xEF, 0xBB, 0xBF] }
    }

    mutating func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(contentsOf: newline)
        if buffer.count >= 1 << 20 { flush() }
    }

    private mutating func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func close() throws {
        flush()
        try handle.close()
    }
}
