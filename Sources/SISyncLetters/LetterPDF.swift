import Foundation
import SISync
import CPangoCairo

/// What went wrong while a PDF of letters was written.
public enum LetterPDFError: Error, CustomStringConvertible, Equatable {
    case cairo(path: String, step: String, status: String)
    case write(path: String, reason: String)
    case exists(path: String)

    public var description: String {
        switch self {
        case .cairo(let path, let step, let status):
            return "\(path): cannot write the PDF (\(step): \(status)); nothing was written"
        case .write(let path, let reason):
            return "\(path): cannot write the PDF: \(reason); nothing was written"
        case .exists(let path):
            return "\(path) exists; give another file name, or --force to replace it"
        }
    }
}

/// A PDF of parent letters, one page each, laid out by pango (shaping, right-to-left runs,
/// font fallback through fontconfig to the Noto families) on cairo's PDF surface, which
/// embeds the fonts it used. It owns the surface and its drawing context; all of cairo's
/// and pango's pointers stay inside this class. The bytes go to `output` (a file opened
/// mode 0600), never to a path cairo would create with the process umask.
package final class LetterPDF {
    private let surface: OpaquePointer
    private let cairo: OpaquePointer
    private let output: PrivateFile
    private let paper: PortalSettings.Paper
    private var finished = false
    /// Characters no installed font could show (pango's unknown glyphs): a box on paper.
    package private(set) var missingGlyphs = 0
    /// Pages whose text ran past the bottom margin (a long template): cut off on paper.
    package private(set) var overflowingPages = 0
    private static let scale = Double(sisync_pango_scale())

    package init(output: PrivateFile, paper: PortalSettings.Paper, title: String) throws {
        self.output = output
        self.paper = paper
        let write: cairo_write_func_t = { closure, data, length in
            guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
            let file = Unmanaged<PrivateFile>.fromOpaque(closure).takeUnretainedValue()
            return file.write(UnsafeRawBufferPointer(start: data, count: Int(length))) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR
        }
        let size = paper.size
        guard let s = cairo_pdf_surface_create_for_stream(write, Unmanaged.passUnretained(output).toOpaque(), size.width, size.height) else {
            throw LetterPDFError.cairo(path: output.path, step: "cairo_pdf_surface_create_for_stream", status: "no surface")
        }
        surface = s
        guard let c = cairo_create(s) else {
            cairo_surface_destroy(s)
            throw LetterPDFError.cairo(path: output.path, step: "cairo_create", status: "no context")
        }
        cairo = c
        try check("cairo_pdf_surface_create_for_stream", cairo_surface_status(surface))
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "sisync \(SisyncVersion.current)")
    }

    deinit {
        cairo_destroy(cairo)
        cairo_surface_destroy(surface)
    }

    private func check(_ step: String, _ status: cairo_status_t) throws {
        guard status == CAIRO_STATUS_SUCCESS else {
            let why = output.failure ?? String(cString: cairo_status_to_string(status))
            throw LetterPDFError.cairo(path: output.path, step: step, status: why)
        }
    }

    /// Sets one letter on a page of its own.
    package func addPage(_ lines: [ParentLetter.Line]) throws {
        let margin = 72.0
        let width = paper.size.width - 2 * margin
        var y = margin
        cairo_set_source_rgb(cairo, 0, 0, 0)
        for line in lines {
            switch line {
            case .text(let text):
                y += draw(text.isEmpty ? " " : text, font: "DejaVu Sans 11", x: margin, y: y, width: width, centered: false) + 2
            case .code(let code):
                y += 8
                let height = draw(code, font: "DejaVu Sans Mono Bold 34", x: margin, y: y + 12, width: width, centered: true)
                cairo_set_line_width(cairo, 1.5)
                cairo_rectangle(cairo, margin + width * 0.2, y, width * 0.6, height + 24)
                cairo_stroke(cairo)
                y += height + 24 + 6
                y += draw(ParentLetter.codeHint, font: "DejaVu Sans Italic 9.5", x: margin, y: y, width: width, centered: true) + 10
            }
        }
        if y > paper.size.height - margin / 2 { overflowingPages += 1 }
        cairo_show_page(cairo)
        try check("cairo_show_page", cairo_status(cairo))
    }

    /// Lays `text` out in `width` points and draws it; returns its height in points.
    private func draw(_ text: String, font: String, x: Double, y: Double, width: Double, centered: Bool) -> Double {
        guard let layout = pango_cairo_create_layout(cairo) else { return 0 }
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        let description = pango_font_description_from_string(font)
        defer { pango_font_description_free(description) }
        pango_layout_set_font_description(layout, description)
        pango_layout_set_width(layout, Int32(width * Self.scale))
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
        if centered { pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER) }
        // The paragraph's direction is the template's own, not a name's: pango's automatic
        // direction would set an English sentence right to left when it starts with a name
        // in Hebrew.
        pango_layout_set_auto_dir(layout, 0)
        pango_context_set_base_dir(pango_layout_get_context(layout), Self.isRightToLeft(text) ? PANGO_DIRECTION_RTL : PANGO_DIRECTION_LTR)
        pango_layout_context_changed(layout)
        pango_layout_set_text(layout, text, -1)
        missingGlyphs += Int(pango_layout_get_unknown_glyphs_count(layout))
        cairo_move_to(cairo, x, y)
        pango_cairo_show_layout(cairo, layout)
        var w: Int32 = 0, h: Int32 = 0
        pango_layout_get_size(layout, &w, &h)
        return Double(h) / Self.scale
    }

    /// Whether the first strong letter outside isolates (the filled-in values) is Hebrew or
    /// Arabic: a template written in those languages is set right to left.
    static func isRightToLeft(_ text: String) -> Bool {
        var depth = 0
        for u in text.unicodeScalars {
            switch u.value {
            case 0x2066...0x2068: depth += 1
            case 0x2069: depth = max(0, depth - 1)
            case _ where depth > 0: continue
            case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF: return true
            case _ where u.properties.isAlphabetic: return false
            default: continue
            }
        }
        return false
    }

    /// Writes the end of the PDF; the file is complete only after this.
    package func finish() throws {
        guard !finished else { return }
        finished = true
        cairo_surface_finish(surface)
        try check("cairo_surface_finish", cairo_surface_status(surface))
        if let failure = output.failure { throw LetterPDFError.write(path: output.path, reason: failure) }
    }
}
