import SISync

/// A SCIM request body read into a `JSONValue` tree: any members (unknown attributes are
/// ignored later, as RFC 7643 wants), at most `maxDepth` levels deep, so a hostile body can
/// neither exhaust the stack nor hide past the bound. Numbers that are not integers are kept
/// as their text: sisync keeps no decimal attribute.
package enum SCIMJSON {
    package static let maxDepth = 16

    package static func read(_ bytes: [UInt8]) throws(SCIMError) -> JSONValue {
        var scanner = JSONScanner(file: "the body", bytes: bytes)
        do {
            let value = try value(&scanner, try scanner.next(), depth: 0)
            try scanner.finish()
            return value
        } catch let e as SCIMError {
            throw e
        } catch ExportError.malformedJSON(_, _, let offset, let message) {
            throw .invalidSyntax("the body is not JSON: \(message) at byte \(offset)")
        } catch {
            throw .invalidSyntax("the body is not JSON: \(error)")
        }
    }

    private static func value(_ s: inout JSONScanner, _ token: JSONScanner.Token, depth: Int) throws -> JSONValue {
        switch token {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .string(let utf8):
            guard let text = String(validating: utf8, as: UTF8.self) else { throw SCIMError.invalidSyntax("the body holds a string that is not UTF-8") }
            // As the rest of the API refuses it (StrictJSON): a NUL would end a username or an
            // email early wherever it meets a C string, and libpq refuses it outright.
            guard !utf8.contains(0) else { throw SCIMError.invalidValue("a string in the body holds a NUL character (\\u0000), which no name, email or password contains") }
            return .string(text)
        case .number(let digits):
            let text = String(decoding: digits, as: UTF8.self)
            return Int64(text).map { .int($0) } ?? .string(text)
        case .objectStart, .arrayStart:
            guard depth < maxDepth else { throw SCIMError.invalidSyntax("the body nests objects and arrays more than \(maxDepth) levels deep") }
            var first = true
            if case .objectStart = token {
                var members: [(String, JSONValue)] = []
                while let key = try s.nextKey(first: first) {
                    first = false
                    members.append((key, try value(&s, try s.next(), depth: depth + 1)))
                }
                return .object(members)
            }
            var items: [JSONValue] = []
            while try s.nextElement(first: first) {
                first = false
                items.append(try value(&s, try s.next(), depth: depth + 1))
            }
            return .array(items)
        }
    }
}

extension JSONValue {
    /// A member by name regardless of case (SCIM attribute names are case-insensitive).
    package subscript(scim name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    package var stringValue: String? { if case .string(let s) = self { return s }; return nil }
}
