import XCTest
import CZlib
@testable import SISync
@testable import SISyncControl
@testable import SISyncLetters

/// Issue 18: parent letters as printable PDFs, read back with poppler (pdftotext, pdfinfo,
/// pdffonts, pdftoppm), in every script families write their names in.
final class LetterTests: XCTestCase {
    /// Names in every script the issue lists: Latin with diacritics, Greek, Cyrillic,
    /// Arabic and Hebrew (right to left), Devanagari, Chinese, Japanese and Korean.
    static let names: [(first: String, last: String)] = [
        ("Ana", "Petrović"), ("Łukasz", "Dvořák"), ("Inés", "Ñúñez"), ("Nguyễn Thị", "Ánh"), ("Åsa", "Ørsted"),
        ("Jörg", "Gößmann"), ("Siobhán", "Ó Súilleabháin"), ("Αλέξανδρος", "Παπαδόπουλος"), ("Анастасия", "Иванова"),
        ("محمد", "عبد الله"), ("נועה", "כהן"), ("अनन्या", "शर्मा"), ("小明", "王"), ("花子", "山田"), ("민준", "김"),
    ]

    private func tool(_ name: String, _ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/" + name)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A page's text as pdftotext gives it, without the bidi embedding marks it wraps
    /// right-to-left runs in. pdftotext's default mode orders right-to-left runs but puts a
    /// space before a Devanagari vowel sign drawn as its own glyph (अनन्य ा); its raw mode,
    /// the content stream's order, keeps Devanagari whole but not Arabic or Hebrew. The page
    /// text is both, one after the other.
    private func pageText(_ pdf: String, _ page: Int) throws -> String {
        var text = ""
        for mode in [[], ["-raw"]] {
            let r = try tool("pdftotext", mode + ["-f", String(page), "-l", String(page), "-enc", "UTF-8", pdf, "-"])
            XCTAssertEqual(r.code, 0, r.err)
            text += String(String.UnicodeScalarView(r.out.unicodeScalars.filter { !(0x202A...0x202E).contains($0.value) && !(0x2066...0x2069).contains($0.value) }))
        }
        return text
    }

    private func pages(_ pdf: String) throws -> Int {
        let info = try tool("pdfinfo", [pdf])
        XCTAssertEqual(info.code, 0, info.err)
        let line = info.out.split(separator: "\n").first { $0.hasPrefix("Pages:") }
        return Int(line?.split(separator: " ").last ?? "") ?? -1
    }

    /// A school of two schools and three grades, students of every script in school 101.
    private func district(_ w: Workspace, portal: String = "") -> Configuration {
        var rows = "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\n"
        for (i, n) in Self.names.enumerated() { rows += "ST\(i + 1),\(n.first),\(n.last),,101,\(i % 2 == 0 ? "5" : "10"),Enrolled,2026-2027\n" }
        rows += "ST90,Bo,Zed,,102,5,Enrolled,2026-2027\nST91,Cy,Gone,,101,5,Withdrawn,2026-2027\nST92,Di,Old,,101,5,Graduated,2025-2026\n"
        w.write("students.csv", rows)
        w.write("staff.csv", staffCSV(manyStaff(2)))
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let text = (try? String(contentsOfFile: w.configPath, encoding: .utf8)) ?? ""
        try! Data((text + "\n[portal]\n" + (portal.isEmpty ? """
            district_name = Riverside Unified School District
            portal_url = https://portal.riverside.k12.example.org
            contact = School office: (555) 010-2000, office@riverside.k12.example.org
            school.101 = Riverside Elementary
            school.102 = Hillcrest Middle School
            """ : portal) + "\n").utf8).write(to: URL(fileURLWithPath: w.configPath))
        return try! Configuration.load(path: w.configPath)
    }

    private func codes(_ w: Workspace) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try w.store().accessCodes.list() { out[r.studentID] = AccessCode.display(r.code) }
        return out
    }

    func testLettersForASchoolGiveEachStudentsNameAndCodeBackPageByPage() throws {
        let w = Workspace()
        let c = district(w)
        XCTAssertEqual(c.portal.schoolName("101"), "Riverside Elementary")
        XCTAssertEqual(w.ctl(["access", "enable", "ST1"]).code, 0)
        let pdf = w.root + "/letters.pdf"
        let log = MemoryLog()
        let console = CapturedConsole()
        let code = ControlCommand(console: console, environment: ["USER": "office"], log: log)
            .run(["--config", w.configPath, "access", "letters", "--school", "101", "--pdf", pdf])
        XCTAssertEqual(code, 0, console.stderr)
        XCTAssertFalse(console.stderr.contains("could not be set"), "every script has a font: \(console.stderr)")
        if let keep = ProcessInfo.processInfo.environment["SISYNC_KEEP_LETTERS"] { try? FileManager.default.copyItem(atPath: pdf, toPath: keep) }
        XCTAssertTrue(console.stdout.contains("wrote 15 letters") && console.stdout.contains("created access codes for 14 students who had none"), console.stdout)
        XCTAssertEqual(try pages(pdf), Self.names.count, "one page per enrolled student of the school; withdrawn and graduated left out")
        let codes = try codes(w)
        // Sorted by grade (5 before 10), then last name.
        let store = try w.store()
        let expected = try store.accessCodes.letterStudents(schoolYear: "2026-2027", school: "101", grade: nil, withoutPairing: false)
        XCTAssertEqual(expected.map(\.grade), Array(repeating: "5", count: 8) + Array(repeating: "10", count: 7))
        for (i, s) in expected.enumerated() {
            let text = try pageText(pdf, i + 1)
            XCTAssertTrue(text.contains(s.firstName) && text.contains(s.lastName), "page \(i + 1): \(s.name) in:\n\(text)")
            XCTAssertTrue(text.contains(try XCTUnwrap(codes[s.studentID])), "page \(i + 1): the code of \(s.studentID)")
            XCTAssertTrue(text.contains("Riverside Elementary") && text.contains("https://portal.riverside.k12.example.org"), text)
            XCTAssertTrue(text.contains("Letters may be typed in either case; the dash is optional."), text)
        }
        // Only embedded fonts: nothing is left to the printer, nothing shows as a box.
        let fonts = try tool("pdffonts", [pdf])
        let rows = fonts.out.split(separator: "\n").dropFirst(2)
        XCTAssertFalse(rows.isEmpty, fonts.out)
        for row in rows {
            let cols = row.split(separator: " ", omittingEmptySubsequences: true)
            XCTAssertTrue(cols.count >= 7 && cols[cols.count - 5] == "yes", "not embedded: \(row)")
        }
        XCTAssertTrue(fonts.out.contains("Noto"), "fallback fonts for the scripts DejaVu lacks:\n\(fonts.out)")
        // 0600, and no code in the journal or the change log.
        var st = stat()
        XCTAssertEqual(stat(pdf, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let messages = log.events.map(\.message).joined(separator: "\n")
        XCTAssertTrue(messages.contains("office made 15 parent letters (school 101)"), messages)
        XCTAssertTrue(messages.contains("office created access codes for 14 students"), messages)
        for c in codes.values {
            XCTAssertFalse(messages.contains(c) || messages.contains(c.replacingOccurrences(of: "-", with: "")), "a code in the log")
        }
        var changeLog: [String] = []
        let db = try w.rawDatabase()
        try db.prepare("SELECT coalesce(old_value, '') || '|' || coalesce(new_value, '') FROM changes").forEachRow { changeLog.append($0.text(0)) }
        XCTAssertFalse(changeLog.isEmpty)
        for c in codes.values {
            XCTAssertFalse(changeLog.contains { $0.contains(c) || $0.contains(c.replacingOccurrences(of: "-", with: "")) }, "a code in the change log")
        }
        let logged = try store.auditTrail.history(entity: .students, id: "ST2").compactMap { $0.change.field == "access_code" ? $0.change.new : nil }
        XCTAssertEqual(logged, ["created"])
    }

    func testLettersRefuseToOverwriteAndFilterByGradeAndPairing() throws {
        let w = Workspace()
        _ = district(w)
        let pdf = w.root + "/grade5.pdf"
        XCTAssertEqual(w.ctl(["access", "letters", "--school", "101", "--grade", "5", "--pdf", pdf]).code, 0)
        XCTAssertEqual(try pages(pdf), 8)
        let before = try Data(contentsOf: URL(fileURLWithPath: pdf))
        let again = w.ctl(["access", "letters", "--school", "101", "--grade", "5", "--pdf", pdf])
        XCTAssertEqual(again.code, 73)
        XCTAssertTrue(again.err.contains("exists") && again.err.contains("--force"), again.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pdf)), before, "the file was left as it was")
        // A parent pairs with ST1: --without-pairing leaves ST1 out.
        XCTAssertEqual(w.ctl(["user", "add", "--username", "mom", "--email", "mom@home.org", "--approved"]).code, 0)
        let st1 = try XCTUnwrap(codes(w)["ST1"])
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "mom", "--code", st1]).code, 0)
        let forced = w.ctl(["access", "letters", "--school", "101", "--grade", "5", "--without-pairing", "--pdf", pdf, "--force"])
        XCTAssertEqual(forced.code, 0, forced.err)
        XCTAssertTrue(forced.out.contains("wrote 7 letters") && forced.out.contains("created access codes for 0 students"), forced.out)
        XCTAssertEqual(try pages(pdf), 7)
        var st = stat()
        XCTAssertEqual(stat(pdf, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "a replaced file is 0600 too")
        XCTAssertFalse(try (1...7).map { try pageText(pdf, $0) }.joined().contains(st1))
        let none = w.ctl(["access", "letters", "--school", "999", "--pdf", w.root + "/none.pdf"])
        XCTAssertEqual(none.code, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.root + "/none.pdf"))
        XCTAssertEqual(w.ctl(["access", "letters", "--school", "101"]).code, 64, "--pdf is required")
        // No temporary file is left next to the letters.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: w.root).filter { $0.hasSuffix(".part") }, [])
    }

    func testTemplatePlaceholdersAndAnUnknownOne() throws {
        let w = Workspace()
        let template = w.root + "/letter.txt"
        try Data("""
            {district_name} — {school}, {date}
            Dear family of {student_name} ({student_id}), grade {grade}:
            {code}
            Sign in at {portal_url}. Questions: {contact}. Braces: {{ok}}
            """.utf8).write(to: URL(fileURLWithPath: template))
        _ = district(w, portal: "district_name = Riverside USD\nportal_url = https://p.example.org\ncontact = Call 555-0100\nschool.101 = Riverside Elementary\npaper = a4\nletter_template = letter.txt")
        XCTAssertEqual(w.ctl(["access", "enable", "ST1"]).code, 0)
        let code = try XCTUnwrap(codes(w)["ST1"])
        let text = w.ctl(["access", "instructions", "ST1"])
        XCTAssertEqual(text.code, 0, text.err)
        let today = ParentLetter.dateText(Date())
        XCTAssertEqual(text.out, """
            Riverside USD — Riverside Elementary, \(today)
            Dear family of Ana Petrović (ST1), grade 5:
                \(code)
                (Letters may be typed in either case; the dash is optional.)
            Sign in at https://p.example.org. Questions: Call 555-0100. Braces: {ok}

            """)
        let pdf = w.root + "/one.pdf"
        XCTAssertEqual(w.ctl(["access", "instructions", "ST1", "--pdf", pdf]).code, 0)
        XCTAssertEqual(try pages(pdf), 1)
        let page = try pageText(pdf, 1)
        XCTAssertTrue(page.contains("Dear family of Ana Petrović (ST1), grade 5:") && page.contains(code) && page.contains("Call 555-0100"), page)
        let info = try tool("pdfinfo", [pdf]).out
        XCTAssertTrue(info.contains("595 x 842 pts (A4)"), info)
        // An unknown placeholder: exit 78 naming the file, the line and the placeholder.
        try Data("Hello {student_name}\nYour code: {acces_code}\n".utf8).write(to: URL(fileURLWithPath: template))
        let bad = w.ctl(["access", "instructions", "ST1"])
        XCTAssertEqual(bad.code, 78)
        XCTAssertTrue(bad.err.contains("\(template):2: `{acces_code}` in the letter template"), bad.err)
        XCTAssertTrue(bad.err.contains("{student_name}, {student_id}"), bad.err)
        XCTAssertEqual(w.ctl(["access", "letters", "--pdf", w.root + "/x.pdf"]).code, 78)
        XCTAssertThrowsError(try LetterTemplate(text: "a {b", file: "t.txt")) { XCTAssertTrue("\($0)".contains("t.txt:1: `{b`")) }
        XCTAssertThrowsError(try LetterTemplate(text: "a }\n{code}", file: "t.txt"))
        XCTAssertThrowsError(try LetterTemplate(text: "Hello {student_name}\n", file: "t.txt")) { XCTAssertTrue("\($0)".contains("never says the code"), "\($0)") }
        // A template saved on Windows: lines split, the code's own line is recognised.
        let crlf = try LetterTemplate(text: "Dear {student_name},\r\n{code}\r\nBye {bad\r\n".replacingOccurrences(of: " {bad", with: ""), file: "w.txt")
        XCTAssertEqual(crlf.lines.count, 3)
        XCTAssertEqual(crlf.lines[1], .code)
        XCTAssertThrowsError(try LetterTemplate(text: "a\r\n{code}\r\n{nope}\r\n", file: "w.txt")) { XCTAssertTrue("\($0)".contains("w.txt:3: `{nope}`"), "\($0)") }
    }

    func testTheBuiltInTextNamesTheSchoolThePortalAndTheContact() throws {
        let w = Workspace()
        _ = district(w)
        XCTAssertEqual(w.ctl(["access", "enable", "ST90"]).code, 0)
        let text = w.ctl(["access", "instructions", "ST90"]).out
        for part in ["Riverside Unified School District", "Hillcrest Middle School", "Parent portal access for Bo Zed (student ST90, grade 5)",
                     "Go to https://portal.riverside.k12.example.org and sign in", "Questions? School office: (555) 010-2000"] {
            XCTAssertTrue(text.contains(part), "\(part) in:\n\(text)")
        }
        // A name in Hebrew does not turn an English sentence around; a Hebrew template is RTL.
        XCTAssertFalse(LetterPDF.isRightToLeft("3. \u{2068}נועה כהן\u{2069} then appears in your account."))
        XCTAssertTrue(LetterPDF.isRightToLeft("שלום \u{2068}Kim\u{2069}"))
        XCTAssertTrue(LetterPDF.isRightToLeft("مرحبا"))
        let plain = PortalSettings()
        XCTAssertEqual(plain.schoolName("103"), "school 103")
        let letter = ParentLetter(studentID: "ST1", studentName: "Kim Lima", schoolID: "103", school: "school 103", grade: "5", code: "7KQ4M9TX",
                                  portalURL: "", districtName: "", contact: "", date: "December 1, 2026")
        let bare = letter.text(LetterTemplate.builtIn(for: plain))
        XCTAssertTrue(bare.hasPrefix("school 103\nDecember 1, 2026\n"), bare)
        XCTAssertTrue(bare.contains("    7KQ4-M9TX\n") && bare.contains("Sign in to the parent portal"), bare)
        XCTAssertFalse(bare.contains("Questions?"))
        for bad in ["portal_url = portal.example.org", "paper = legal", "district_name =", "school.101 ="] {
            XCTAssertThrowsError(try Configuration.parse(text: "[portal]\n\(bad)\n", path: "/etc/sisync/sisync.conf"), bad) { e in
                XCTAssertTrue("\(e)".contains("sisync.conf:2: [portal]"), "\(e)")
            }
        }
    }

    /// A character no font has is counted (and the command warns), not silently boxed.
    func testMissingGlyphsAreCounted() throws {
        let w = Workspace()
        let pages: [[ParentLetter.Line]] = [[.text("Kim \u{F0000}\u{F0001}"), .code("7KQ4-M9TX")], [.text("Łukasz 王 김 अनन्या")]]
        XCTAssertEqual(try ControlCommand.writeLetters(pages, to: w.root + "/m.pdf", replace: false, paper: .a4).missingGlyphs, 2)
        let ok = try ControlCommand.writeLetters([pages[1]], to: w.root + "/ok.pdf", replace: false, paper: .letter)
        XCTAssertEqual(ok.missingGlyphs, 0)
        XCTAssertEqual(ok.overflowingPages, 0)
        // A template too long for one page is said to run off it.
        let long: [ParentLetter.Line] = Array(repeating: .text("A line of a very long letter."), count: 80) + [.code("7KQ4-M9TX")]
        XCTAssertEqual(try ControlCommand.writeLetters([long, pages[1]], to: w.root + "/long.pdf", replace: false, paper: .letter).overflowingPages, 1)
    }

    /// One page rendered to PNG is not blank: dark pixels where the text is.
    func testAPageRendersToAPNGThatIsNotBlank() throws {
        let w = Workspace()
        _ = district(w)
        XCTAssertEqual(w.ctl(["access", "enable", "ST10"]).code, 0)
        let pdf = w.root + "/he.pdf"
        XCTAssertEqual(w.ctl(["access", "instructions", "ST10", "--pdf", pdf]).code, 0)
        let r = try tool("pdftoppm", ["-png", "-gray", "-r", "40", "-singlefile", pdf, w.root + "/page"])
        XCTAssertEqual(r.code, 0, r.err)
        let (width, height, pixels) = try grayPNG(Data(contentsOf: URL(fileURLWithPath: w.root + "/page.png")))
        XCTAssertEqual(width, 340, "letter width at 40 dpi")
        XCTAssertEqual(height, 440)
        let dark = pixels.filter { $0 < 128 }.count
        XCTAssertGreaterThan(dark, 500, "text is drawn")
        XCTAssertLessThan(dark, pixels.count / 4, "the page is mostly paper")
    }

    /// Decodes an 8-bit gray or RGB, non-interlaced PNG (as pdftoppm -gray -png writes it).
    private func grayPNG(_ data: Data) throws -> (Int, Int, [UInt8]) {
        let bytes = [UInt8](data)
        XCTAssertEqual(Array(bytes.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10])
        var i = 8, width = 0, height = 0, channels = 1
        var idat: [UInt8] = []
        func be32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        while i + 8 <= bytes.count {
            let length = be32(i)
            let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(bytes[(i + 8)..<(i + 8 + length)])
            if type == "IHDR" {
                width = be32(i + 8); height = be32(i + 12)
                XCTAssertEqual(body[8], 8, "bit depth"); XCTAssertEqual(body[12], 0, "not interlaced")
                channels = body[9] == 2 ? 3 : 1
            }
            if type == "IDAT" { idat += body }
            i += 12 + length
        }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var size = uLongf(raw.count)
        XCTAssertEqual(uncompress(&raw, &size, idat, uLong(idat.count)), Z_OK)
        var out = [UInt8](repeating: 0, count: stride * height)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = Int(raw[y * (stride + 1) + 1 + x])
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(out[(y - 1) * stride + x - channels]) : 0
                let predicted: Int
                switch filter {
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: predicted = 0
                }
                out[y * stride + x] = UInt8((v + predicted) & 0xFF)
            }
        }
        // One value per pixel: the first channel (pdftoppm's gray is R = G = B).
        return (width, height, channels == 1 ? out : Swift.stride(from: 0, to: out.count, by: channels).map { out[$0] })
    }
}
