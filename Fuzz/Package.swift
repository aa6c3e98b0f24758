// swift-tools-version:6.0
// Coverage-guided fuzz harnesses (libFuzzer) for sisync's readers. Built apart from the
// product by `make fuzz` (see Fuzz/README.md): its own package, its own scratch path
// (.build-fuzz), sanitizer and coverage flags; `swift build` of the project never sees it.
import Foundation
import PackageDescription

// A path dependency is named after its directory: whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// The harnesses that reach the letters, a target of their own (the engine has no pango).
let lettersHarnesses: Set<String> = ["FuzzLetterTemplate"]

// The harnesses that reach sisync-api (its transport and its application side).
let apiHarnesses: Set<String> = ["FuzzAPIRequest", "FuzzHTTPRequest", "FuzzSCIM"]

let harnesses = ["FuzzCSV", "FuzzJSON", "FuzzConfig", "FuzzZip", "FuzzOneRosterCSV", "FuzzOneRosterAPI", "FuzzAccessCode", "FuzzLetterTemplate", "FuzzSourceURL", "FuzzAPIRequest", "FuzzHTTPRequest", "FuzzSCIM", "FuzzMetricsFile", "FuzzUserImport"]

let package = Package(
    name: "sisync-fuzz",
    products: harnesses.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
    ] + harnesses.map {
        .executableTarget(name: $0, dependencies: ["FuzzSupport", .product(name: "SISync", package: root)]
                          + (lettersHarnesses.contains($0) ? [.product(name: "SISyncLetters", package: root)] : [])
                          + (apiHarnesses.contains($0) ? [.product(name: "SISyncAPI", package: root)] : []))
    }
)
