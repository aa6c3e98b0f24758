import SISync

/// Reads a request's JSON body strictly (issue 30): one object whose members are all among
/// the endpoint's fields and all strings, none holding NUL; bad JSON, another type, an
/// unknown, repeated or missing field is an error naming it.
package enum StrictJSON {
    package enum ReadError: Error, Equatable, CustomStringConvertible, Sendable {
        case malformed(String, offset: Int)
        case notAnObject
        case unknownField(String)
        case repeatedField(String)
        case wrongType(field: String, found: String)
        case missingField(String)
        case nulCharacter(field: String)

        package var description: String {
            switch self {
            case .malformed(let what, let offset): return "the body is not JSON: \(what) (at byte \(offset))"
            case .notAnObject: return "the body must be one JSON object"
            case .unknownField(let f): return "unknown field `\(f)`; check the field names in docs/api.md"
            case .repeatedField(let f): return "field `\(f)` is given twice"
            case .wrongType(let f, let found): return "field `\(f)` must be a string, not \(found)"
            case .missingField(let f): return "field `\(f)` is missing"
            case .nulCharacter(let f): return "field `\(f)` holds a NUL character (\\u0000), which no name, password or code contains"
            }
        }
    }

    /// The object's string members, exactly `fields` (all required). The engine's
    /// `JSONScanner` reads the bytes: iteratively, so no nesting can exhaust the stack.
    package static func readObject(_ bytes: [UInt8], fields: [String]) throws(ReadError) -> [String: String] {
        do {
            return try read(bytes, fields: fields)
        } catch let e as ReadError {
            throw e
        } catch ExportError.malformedJSON(_, _, let offset, let message) {
            throw .malformed(message, offset: offset)
        } catch {
            throw .malformed("\(error)", offset: 0)
        }
    }

    private static func read(_ bytes: [UInt8], fields: [String]) throws -> [String: String] {
        var scanner = JSONScanner(file: "the body", bytes: bytes)
        let first = try scanner.next()
        guard case .objectStart = first else {
            try scanner.skip(after: first)
            try scanner.finish()
            throw ReadError.notAnObject
        }
        var out: [String: String] = [:]
        var isFirst = true
        while let name = try scanner.nextKey(first: isFirst) {
            isFirst = false
            guard fields.contains(name) else { throw ReadError.unknownField(name) }
            guard out[name] == nil else { throw ReadError.repeatedField(name) }
            let value = try scanner.next()
            guard case .string(let utf8) = value else { throw ReadError.wrongType(field: name, found: typeName(value)) }
            guard let text = String(validating: utf8, as: UTF8.self) else { throw ReadError.malformed("field `\(name)` is not UTF-8", offset: scanner.pos) }
            // A NUL would end the value early wherever it meets a C string (libpq refuses it
            // outright): never past the door.
            guard !utf8.contains(0) else { throw ReadError.nulCharacter(field: name) }
            out[name] = text
        }
        try scanner.finish()
        for f in fields where out[f] == nil { throw ReadError.missingField(f) }
        return out
    }

    private static func typeName(_ token: JSONScanner.Token) -> String {
        switch token {
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        case .objectStart: return "an object"
        case .arrayStart: return "an array"
        }
    }
}
