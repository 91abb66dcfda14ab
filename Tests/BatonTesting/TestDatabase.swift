import Foundation
import Postgres

/// Databases for tests: each suite gets its own, on the server `DATABASE_URL` names (scripts/test
/// starts a private one), so suites run in parallel without seeing each other's rows.
public enum TestDatabase {
    /// The server the tests run against; fails with a clear message when DATABASE_URL is unset.
    public static func serverConfig() throws -> ConnectionConfig {
        OpenSSLExit.disableCleanupAtExit()
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError("DATABASE_URL is not set: run the tests with scripts/test, which starts a private PostgreSQL")
        }
        // 97 suites open their databases at once on two cores: a connection may take a while to be
        // accepted. A slow machine is not a failure of the code under test.
        return try ConnectionConfig(url, connectTimeoutSeconds: 60, applicationName: "baton-tests")
    }

    /// Creates an empty database named for `label` and returns its config. Databases left by
    /// test processes that have exited are dropped on the way.
    public static func create(_ label: String) async throws -> ConnectionConfig {
        let server = try serverConfig()
        let admin = try await Connection.connect(server)
        defer { Task { await admin.close() } }
        try await dropStale(admin)
        let safeLabel = String(label.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(30))
        let name = "bt_\(getpid())_\(safeLabel)_\(UInt32.random(in: 0...UInt32.max))"
        // A database name is an identifier, not a value: made here from digits, letters and _ only.
        try await admin.query("SELECT 1")
        _ = try await admin.executeScript("CREATE DATABASE \(name)")
        return server.with(database: name)
    }

    private static func dropStale(_ admin: Connection) async throws {
        let rows = try await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'bt\\_%'")
        for row in rows {
            let name: String = try row.decode(at: 0)
            let parts = name.split(separator: "_")
            guard parts.count > 2, let pid = Int32(parts[1]), pid != getpid(), kill(pid, 0) != 0 else { continue }
            _ = try? await admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }
}

/// A test could not be set up (not a failure of the code under test).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The package's root folder, found from this file's path.
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

