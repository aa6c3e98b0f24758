// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sisync",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sisyncd", targets: ["sisyncd"]),
        .executable(name: "sisyncctl", targets: ["sisyncctl"]),
        .executable(name: "sisync-bench", targets: ["sisync-bench"]),
        .executable(name: "sisync-api", targets: ["sisync-api"]),
        .library(name: "SISync", targets: ["SISync"]),
        .library(name: "SISyncLetters", targets: ["SISyncLetters"]),
        // For the fuzz harnesses (Fuzz/), which reach the API's parsing by path dependency.
        .library(name: "SISyncAPI", targets: ["SISyncAPI"]),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // glibc's malloc_trim (malloc.h): a run hands freed memory back after its phases.
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CCrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CPangoCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libpango1.0-dev", "libcairo2-dev"])]
        ),
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // The engine: export, planning, guard, store, run, service, source, configuration,
        // logging, tenants and the daemon's command. No pango or cairo: sisyncd links only this.
        .target(
            name: "SISync",
            dependencies: ["CCurl", "CSQLite", "CCrypto", "CCrypt", "CZlib", "CPostgres", "CMalloc"]
        ),
        // Parent letters (templates, PDF pages); the only target that draws, so the only one
        // that links pango, cairo, glib and harfbuzz.
        .target(name: "SISyncLetters", dependencies: ["SISync", "CPangoCairo"]),
        // The administrator's commands (sisyncctl), which need the engine and the letters.
        .target(name: "SISyncControl", dependencies: ["SISync", "SISyncLetters"]),
        // The applications' HTTP API (sisync-api): requests, routes, clients and endpoints over
        // the engine's stores, served by libmicrohttpd; no letters.
        .target(name: "SISyncAPI", dependencies: ["SISync", "CMicroHTTPD"]),
        .executableTarget(name: "sisyncd", dependencies: ["SISync"]),
        .executableTarget(name: "sisyncctl", dependencies: ["SISync", "SISyncControl"]),
        .executableTarget(name: "sisync-bench", dependencies: ["SISync", "SISyncControl"]),
        .executableTarget(name: "sisync-api", dependencies: ["SISync", "SISyncAPI"]),
        .testTarget(name: "SISyncTests", dependencies: ["SISync", "SISyncLetters", "SISyncControl", "SISyncAPI", "CZlib"]),
    ]
)
