import BatonTesting
import Foundation
import Logging
import Postgres
import Synchronization
import Testing

/// TLS to the database (issue 11, security): a network host below sslmode=verify-full is warned
/// about once per process, or refused with BATON_REQUIRE_VERIFIED_TLS; verify-full against a
/// private cluster with TLS on passes with the right CA and fails clearly with the wrong one.
@Suite("TLS to the database", .serialized)
struct TLSTests {
    @Test("a network host below verify-full gets one warning naming the host and the sslmode; local ones none")
    func warningText() throws {
        let remote = try ConnectionConfig("postgresql://u:pw-Secret1@db.example.com:5432/baton?sslmode=require")
        let warning = try #require(remote.tlsWarning)
        #expect(warning.hasPrefix("database host db.example.com is reached with sslmode=require"))
        #expect(!warning.contains("pw-Secret1"))
        #expect(try ConnectionConfig("host=db.example.com dbname=x").tlsWarning?.contains("sslmode=prefer") == true)
        #expect(try ConnectionConfig("host=db.example.com sslmode=verify-full dbname=x").tlsWarning == nil)
        for local in ["host=127.0.0.1 sslmode=disable", "host=localhost", "host=/var/run/postgresql", "host=::1 sslmode=require",
                      "host=db.example.com hostaddr=127.0.0.1 sslmode=disable"] {
            #expect(try ConnectionConfig(local + " dbname=x").tlsWarning == nil, "\(local)")
        }
        let mixed = try ConnectionConfig("host=127.0.0.1,db2.example.com sslmode=verify-ca dbname=x")
        #expect(mixed.remoteHosts == ["db2.example.com"])
        #expect(mixed.tlsWarning?.contains("sslmode=verify-ca") == true)
    }

    @Test("the warning is logged once per process however many connections are tried")
    func warnedOnce() async throws {
        let lines = Lines()
        let logger = Logger(label: "tls-test") { _ in CapturingHandler(lines: lines) }
        let config = try ConnectionConfig("host=db-once.invalid port=5432 dbname=x sslmode=require connect_timeout=2")
        for _ in 0..<3 { _ = try? await Connection.connect(config, logger: logger) }
        let warnings = lines.all.filter { $0.contains("db-once.invalid") }
        #expect(warnings.count == 1, "\(lines.all)")
        #expect(warnings.first?.contains("sslmode=require") == true)
    }

    @Test("BATON_REQUIRE_VERIFIED_TLS refuses such a connection before it is tried, with one line")
    func refusedWhenRequired() async throws {
        var config = try ConnectionConfig("postgresql://u:pw-Secret2@db-refused.invalid/x?sslmode=require")
        config.requireVerifiedTLS = true
        let error = await #expect(throws: PostgresError.self) { try await Connection.connect(config) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.hasPrefix("refused: database host db-refused.invalid is reached with sslmode=require") == true)
        #expect(error.map { !"\($0)".contains("pw-Secret2") } == true)
    }

    @Test("verify-full with the cluster's CA and host name connects over TLS; the wrong CA fails clearly, without the password")
    func verifyFullAgainstAPrivateCluster() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("baton-tls-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let home = folder.appendingPathComponent("pg").path
        let pg = packageRoot.appendingPathComponent("scripts/pg").path
        defer {
            Task {
                _ = try? await runProgram(pg, ["destroy"], environment: ["BATON_PG_HOME": home])
                try? FileManager.default.removeItem(at: folder)
            }
        }
        func openssl(_ arguments: [String]) async throws {
            let result = try await runProgram("/usr/bin/openssl", arguments)
            try #require(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.output)")
        }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        // A CA, a server certificate it signs for localhost, and a second CA that signed nothing.
        try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.crt"),
                           "-days", "2", "-subj", "/CN=Baton Test CA"])
        try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("other.key"), "-out", path("other.crt"),
                           "-days", "2", "-subj", "/CN=Some Other CA"])
        try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"),
                           "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
        try await openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                           "-CAcreateserial", "-out", path("server.crt"), "-days", "2", "-extfile", path("san.ext")])

        let environment = [
            "BATON_PG_HOME": home, "BATON_PG_TLS_CERT": path("server.crt"), "BATON_PG_TLS_KEY": path("server.key"),
        ]
        let started = try await PrivateClusterTurns.shared.exclusively { try await runProgram(pg, ["start"], environment: environment) }
        try #require(started.status == 0, "scripts/pg start failed: \(started.output)")
        let url = try #require(started.output.split(separator: "\n").last { $0.hasPrefix("postgresql://") })
        let port = try #require(URLComponents(string: String(url))?.port)

        let verified = try ConnectionConfig(
            "host=localhost port=\(port) user=baton password=baton dbname=baton sslmode=verify-full sslrootcert=\(path("ca.crt"))", connectTimeoutSeconds: 60)
        let connection = try await Connection.connect(verified)
        let ssl = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0].decode(Bool.self, at: 0)
        #expect(ssl)
        await connection.close()

        let wrongCA = try ConnectionConfig(
            "host=localhost port=\(port) user=baton password=tls-Secret-9 dbname=baton sslmode=verify-full sslrootcert=\(path("other.crt"))", connectTimeoutSeconds: 60)
        let error = await #expect(throws: PostgresError.self) { try await Connection.connect(wrongCA) }
        let text = error.map { "\($0)" } ?? ""
        #expect(error?.code == .connectionFailed)
        #expect(text.contains("certificate verify failed"), "\(text)")
        #expect(text.contains("localhost:\(port)"), "\(text)")
        #expect(!text.contains("tls-Secret-9"))
        #expect(!text.contains("\n"))
    }
}

/// Log lines, gathered under a lock.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// Keeps every message logged through it.
struct CapturingHandler: LogHandler {
    let lines: Lines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { lines.append("\(event.level): \(event.message)") }
}
