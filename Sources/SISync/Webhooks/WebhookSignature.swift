import CCrypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` and the base64
/// HMAC-SHA256 of `id.timestamp.body` with the secret's key, one per secret line, separated
/// by spaces, so that a receiver holding either key of a rotation verifies the request.
public struct WebhookSignature: Sendable {
    /// The keys: the base64 part of each `whsec_…` line, decoded.
    public let keys: [[UInt8]]

    /// `lines`: the secret file's lines; each is `whsec_` and base64 (at least 24 bytes, as
    /// the specification asks), blank lines ignored.
    public init(secretLines lines: [String]) throws(WebhookSecretProblem) {
        var keys: [[UInt8]] = []
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard line.hasPrefix("whsec_") else { throw .notWhsec }
            guard let key = Data(base64Encoded: String(line.dropFirst(6))), (24...64).contains(key.count) else { throw .badBase64 }
            keys.append(Array(key))
        }
        guard !keys.isEmpty, keys.count <= 2 else { throw keys.isEmpty ? .empty : .tooMany }
        self.keys = keys
    }

    /// The `webhook-signature` header of one attempt.
    public func header(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        return keys.map { "v1," + Data(Self.hmacSHA256(key: $0, message: message)).base64EncodedString() }.joined(separator: " ")
    }

    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = key.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                HMAC(EVP_sha256(), k.baseAddress, Int32(key.count), m.baseAddress, m.count, &out, &length)
            }
        }
        precondition(done != nil, "OpenSSL HMAC-SHA256 failed")
        return Array(out[0..<Int(length)])
    }
}

/// Why a secret file's text is not a Standard Webhooks secret.
public enum WebhookSecretProblem: Error, Equatable, CustomStringConvertible {
    case empty, tooMany, notWhsec, badBase64

    public var description: String {
        switch self {
        case .empty: return "the file is empty"
        case .tooMany: return "more than two secrets (one, or two while rotating)"
        case .notWhsec: return "a line does not start with whsec_"
        case .badBase64: return "a secret is not base64 of 24 to 64 bytes after whsec_"
        }
    }
}
