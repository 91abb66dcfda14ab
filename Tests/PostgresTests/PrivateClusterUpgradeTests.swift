import BatonTesting
import Foundation
import Postgres
import Testing

/// scripts/pg (issue 11, security): a cluster made by an older scripts/pg, where `baton` was the
/// bootstrap superuser, is upgraded on `start`: `baton` is no longer a superuser, still owns what it
/// had, can create databases, and a second start changes nothing.
@Suite("Private cluster upgrade")
struct PrivateClusterUpgradeTests {
    @Test("an older cluster's superuser baton becomes the owner's login, keeping its data")
    func olderClusterIsUpgraded() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pg-up-\(getpid())").path
        let pg = packageRoot.appendingPathComponent("scripts/pg").path
        let env = ["BATON_PG_HOME": home]
        defer {
            Task {
                _ = try? await runProgram(pg, ["destroy"], environment: env)
                try? FileManager.default.removeItem(atPath: home)
            }
        }
        let bin = try #require(try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }.last.map { "/usr/lib/postgresql/\($0)/bin" })
        let root = getuid() == 0
        func asOwner(_ program: String, _ arguments: [String]) async throws {
            let result = root ? try await runProgram("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/\(program)"] + arguments)
                              : try await runProgram("\(bin)/\(program)", arguments)
            try #require(result.status == 0, "\(program) \(arguments.joined(separator: " ")): \(result.output)")
        }
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try "baton\n".write(toFile: "\(home)/pwfile", atomically: true, encoding: .utf8)
        if root { _ = try await runProgram("/usr/bin/chown", ["-R", "postgres:", home]) }

        // What the older scripts/pg made: initdb -U baton (the bootstrap superuser), a database baton.
        try await asOwner("initdb", ["-D", "\(home)/data", "-U", "baton", "--pwfile=\(home)/pwfile", "-E", "UTF8", "--locale=C.UTF-8",
                                     "--auth-local=trust", "--auth-host=scram-sha-256"])
        let port = "\(Int.random(in: 40000...49999))"
        try await asOwner("pg_ctl", ["-D", "\(home)/data", "-w", "-l", "\(home)/old.log", "-o", "-p \(port) -k \(home) -c listen_addresses=", "start"])
        try await asOwner("psql", ["-h", home, "-p", port, "-U", "baton", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE baton"])
        try await asOwner("psql", ["-h", home, "-p", port, "-U", "baton", "-d", "baton", "-v", "ON_ERROR_STOP=1",
                                   "-c", "CREATE TABLE kept (v text)", "-c", "INSERT INTO kept VALUES ('before')"])
        try await asOwner("pg_ctl", ["-D", "\(home)/data", "-w", "-m", "fast", "stop"])

        let started = try await PrivateClusterTurns.shared.exclusively { try await runProgram(pg, ["start"], environment: env) }
        try #require(started.status == 0, "scripts/pg start failed: \(started.output)")
        #expect(started.output.contains("upgrading the private cluster"))
        let url = try #require(started.output.split(separator: "\n").last { $0.hasPrefix("postgresql://") })
        let connection = try await Connection.connect(try ConnectionConfig(String(url), connectTimeoutSeconds: 60))
        defer { Task { await connection.close() } }
        let row = try await connection.query("SELECT rolsuper, rolcreatedb, oid <> 10 FROM pg_roles WHERE rolname = current_user")[0]
        #expect(try row.decode(Bool.self, at: 0) == false, "baton is still a superuser")
        #expect(try row.decode(Bool.self, at: 1))
        #expect(try row.decode(Bool.self, at: 2), "baton is still the bootstrap user, which owns the catalogs")
        try await connection.query("INSERT INTO kept VALUES ('after')")
        #expect(try await connection.query("SELECT count(*) FROM kept")[0].decode(Int.self, at: 0) == 2)
        _ = try await connection.executeScript("CREATE DATABASE upgraded_probe")
        _ = try await connection.executeScript("DROP DATABASE upgraded_probe")
        await #expect(throws: PostgresError.self) { try await connection.query("ALTER SYSTEM SET work_mem = '8MB'") }

        let again = try await PrivateClusterTurns.shared.exclusively { try await runProgram(pg, ["start"], environment: env) }
        #expect(again.status == 0, "\(again.output)")
        #expect(!again.output.contains("upgrading"), "\(again.output)")
    }
}
