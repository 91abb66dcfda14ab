// swift-tools-version:6.1
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "baton",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "baton-worker", targets: ["baton-worker"]),
        .executable(name: "batonctl", targets: ["batonctl"]),
        .executable(name: "baton-server", targets: ["baton-server"]),
        .executable(name: "baton-bench", targets: ["baton-bench"]),
        .library(name: "Postgres", targets: ["Postgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already resolved for async-http-client; named here for the email channel's STARTTLS.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Property-based tests of the pure core (random definitions, event sequences, availability).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // libpq's C API. Only the Postgres module imports it.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Safe Swift over libpq; knows nothing of workflows.
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swift6),
        // The pure core: Model, Definitions (parse + validate), Routing, Machine. No database, no network.
        .target(
            name: "BatonCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"), .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swift6),
        // The engine: Store (every SQL statement), Runtime (worker, outbox relay), Admin (inspection).
        .target(
            name: "Baton",
            dependencies: [
                "BatonCore", "Postgres", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swift6),
        // The HTTP API's routes over the engine's shared reads and commands. Imports Baton, never Postgres.
        .target(
            name: "BatonHTTP",
            dependencies: [
                "Baton", "BatonCore", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // The console's templates, CSS and JS are embedded by scripts/gen-console (ConsoleAssets.swift).
            exclude: ["Console/Resources"],
            swiftSettings: swift6),
        .executableTarget(
            name: "baton-server",
            dependencies: [
                "Baton", "BatonHTTP", "Postgres", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "baton-bench",
            dependencies: [
                "Baton", "BatonCore", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "batonctl",
            dependencies: [
                "Baton", "BatonCore", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "baton-worker",
            dependencies: [
                "Baton", "BatonCore", "Postgres", "BatonHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swift6),
        // Test support: a private database per suite, fixtures.
        .target(
            name: "BatonTesting",
            dependencies: [
                "Postgres", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/BatonTesting", swiftSettings: swift6),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "BatonTesting"], swiftSettings: swift6),
        .testTarget(
            name: "BatonCoreTests",
            dependencies: ["BatonCore", "BatonTesting", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swift6),
        .testTarget(
            name: "BatonTests",
            dependencies: [
                "Baton", "BatonCore", "Postgres", "BatonTesting", "BatonHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swift6),
    ]
)
