// The parent-portal access code: AccessCode.normalize reads what a parent
// typed; generate/display make and show codes.
//
// normalize returns a code or nil and never throws; a finding is a crash or a broken
// invariant: a result that is not 8 characters of the alphabet, that does not normalise
// to itself, or whose display form does not normalise back to it.
@testable import SISync
import FuzzSupport

let alphabet = Set(AccessCode.alphabet)

/// Random bits taken from the input, for generate(using:).
struct InputRNG: RandomNumberGenerator {
    var bytes: [UInt8]
    var i = 0
    mutating func next() -> UInt64 {
        var v: UInt64 = 0
        for _ in 0..<8 { v = v << 8 | UInt64(bytes.isEmpty ? 0 : bytes[i % bytes.count]); i += 1 }
        return v
    }
}

func check(_ code: String, from what: String) {
    guard code.count == AccessCode.length, code.allSatisfy({ alphabet.contains($0) }) else {
        finding("AccessCode: \(what) gave \(code.debugDescription), not \(AccessCode.length) characters of the alphabet")
    }
    guard AccessCode.normalize(code) == code else { finding("AccessCode: \(code) does not normalise to itself") }
    let shown = AccessCode.display(code)
    guard AccessCode.normalize(shown) == code else { finding("AccessCode: display \(shown) does not normalise to \(code)") }
    guard AccessCode.normalize(shown.lowercased()) == code else { finding("AccessCode: \(shown.lowercased()) does not normalise to \(code)") }
}

fuzzMain { data in
    let typed = String(decoding: data, as: UTF8.self)
    if let code = AccessCode.normalize(typed) { check(code, from: "normalize(\(typed.debugDescription))") }
    var rng = InputRNG(bytes: Array(data))
    check(AccessCode.generate(using: &rng), from: "generate")
    _ = AccessCode.display(typed)
}
