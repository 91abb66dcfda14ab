import BatonTesting
import Foundation
import Testing

/// `baton-worker --print-config` (DESIGN.md): the settings a worker would run with, no secrets, no connection.
@Suite("baton-worker --print-config")
struct WorkerConfigTests {
    @Test("prints flags, derived timeouts and the database without its password, and connects to nothing")
    func printConfig() async throws {
        let (status, output) = try await runProgram(
            try Engine.binary("baton-worker"),
            ["--print-config", "--database-url", "postgresql://ops:s3cretPW@db.invalid:6543/baton", "--lease", "20s",
             "--concurrency", "4", "--metrics-port", "9091", "--id", "w-1"],
            environment: ["DATABASE_URL": ""])
        #expect(status == 0, "\(output)")
        #expect(output.contains("database: postgresql://ops@db.invalid:6543/baton"))
        #expect(output.contains("database_from: --database-url"))
        #expect(output.contains("id: w-1"))
        #expect(output.contains("concurrency: 4"))
        #expect(output.contains("lease: 20s"))
        #expect(output.contains("statement_timeout: 10.0 seconds"))
        #expect(output.contains("metrics: 0.0.0.0:9091"))
        #expect(!output.contains("s3cretPW"))
    }

    @Test("shows the pooler and the listen URL, from the flags or BATON_POOLER and BATON_LISTEN_URL, without passwords")
    func printConfigPooler() async throws {
        let (status, output) = try await runProgram(
            try Engine.binary("baton-worker"),
            ["--print-config", "--database-url", "postgresql://ops:s3cretPW@bouncer.invalid:6432/baton"],
            environment: ["DATABASE_URL": "", "BATON_POOLER": "pgbouncer",
                          "BATON_LISTEN_URL": "postgresql://ops:s3cretPW@db.invalid:5432/baton"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("pooler: pgbouncer (transaction mode)"))
        #expect(output.contains("listen: postgresql://ops@db.invalid:5432/baton"))
        #expect(!output.contains("s3cretPW"))
        let refused = try await runProgram(try Engine.binary("baton-worker"), ["--print-config", "--pooler", "pgpool"])
        #expect(refused.status != 0 && refused.output.contains("--pooler: none or pgbouncer"), "\(refused.output)")
    }
}
