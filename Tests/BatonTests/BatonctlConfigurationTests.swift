import BatonTesting
import Foundation
import Testing

/// batonctl reads the database settings of the configuration file baton-worker reads
/// (docs/operations.md, "Configuration"): `--database-url` (or `--database-url-file`), then
/// `DATABASE_URL`, then the file's `database_url_file`/`database_url`, then libpq's `PG*`
/// variables; the worker's and server's keys in the same file are ignored. Real databases.
@Suite("batonctl configuration file")
struct BatonctlConfigurationTests {
    static let workflow = """
        name: cfg
        start: hold
        steps:
          hold:
            wait_for_sla: { event: touched, within: 1h }
            on_met: done
            on_breach: done
          done:
            end: {}
        """

    /// A fresh directory for this test's files.
    func directory() throws -> String { try ScratchFiles.directory("ctlconfig") }

    /// Writes `text` to `name` in `directory`; returns the path.
    func write(_ text: String, _ name: String, in directory: String) throws -> String {
        try ScratchFiles.write(text, name, in: directory)
    }

    /// batonctl in `directory` with no database from the test's own environment unless `environment` names one.
    func ctl(_ arguments: [String], in directory: String, _ environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let quoted = ([try Engine.binary("batonctl")] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let clean = ["DATABASE_URL": "", "BATON_CONFIG": "", "BATON_POOLER": "", "BATON_DATABASE_URL_FILE": ""]
        return try await runProgram("/bin/sh", ["-c", "cd '\(directory)' && exec \(quoted)"],
                                    environment: clean.merging(environment) { $1 })
    }

    /// Two databases, each with one instance of contact `fileDB` / `envDB`: which one a command
    /// lists shows which URL it used.
    func databases(_ label: String) async throws -> (file: Engine, env: Engine) {
        let file = try await Engine.make("\(label)f", workflows: [Self.workflow])
        let env = try await Engine.make("\(label)e", workflows: [Self.workflow])
        _ = try await file.start("cfg", "C-in-file-db")
        _ = try await env.start("cfg", "C-in-env-db")
        return (file, env)
    }

    @Test("--config F names database_url_file; the environment beats the file; the flag beats the environment")
    func precedence() async throws {
        let (fileDB, envDB) = try await databases("ctlcfg")
        defer { Task { await fileDB.close(); await envDB.close() } }
        let dir = try directory()
        let urlFile = try write(fileDB.config.urlForChildren + "\n", "database-url", in: dir)
        // The worker's and server's keys are accepted and ignored.
        let config = try write("database_url_file: \(urlFile)\nconcurrency: 3\nlisten: 127.0.0.1:9999\nlog_level: notice\n",
                               "settings.yaml", in: dir)

        let fromFile = try await ctl(["--config", config, "instances", "list"], in: dir)
        #expect(fromFile.status == 0, "\(fromFile.output)")
        #expect(fromFile.output.contains("C-in-file-db") && !fromFile.output.contains("C-in-env-db"), "\(fromFile.output)")
        let after = try await ctl(["instances", "list", "--config", config], in: dir)
        #expect(after.status == 0 && after.output.contains("C-in-file-db"), "the option after the subcommand: \(after.output)")

        let fromEnvironment = try await ctl(["--config", config, "instances", "list"], in: dir, ["DATABASE_URL": envDB.config.urlForChildren])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.output)")
        #expect(fromEnvironment.output.contains("C-in-env-db") && !fromEnvironment.output.contains("C-in-file-db"), "\(fromEnvironment.output)")

        let envURLFile = try write(envDB.config.urlForChildren + "\n", "env-url", in: dir)
        let fromFlag = try await ctl(["--config", config, "--database-url-file", urlFile, "instances", "list"], in: dir,
                                     ["DATABASE_URL": envDB.config.urlForChildren])
        #expect(fromFlag.status == 0 && fromFlag.output.contains("C-in-file-db"), "\(fromFlag.output)")
        let fromFlagURL = try await ctl(["instances", "list", "--database-url", fileDB.config.urlForChildren], in: dir,
                                        ["BATON_CONFIG": config, "BATON_DATABASE_URL_FILE": envURLFile])
        #expect(fromFlagURL.status == 0 && fromFlagURL.output.contains("C-in-file-db"), "\(fromFlagURL.output)")
        let fromVariable = try await ctl(["instances", "list"], in: dir, ["BATON_CONFIG": config, "BATON_DATABASE_URL_FILE": envURLFile])
        #expect(fromVariable.status == 0 && fromVariable.output.contains("C-in-env-db"), "\(fromVariable.output)")
    }

    @Test("./baton.yaml is read when present; a missing --config file is an error, a missing ./baton.yaml is not")
    func defaultFile() async throws {
        let (fileDB, envDB) = try await databases("ctlcfgdef")
        defer { Task { await fileDB.close(); await envDB.close() } }
        let dir = try directory()
        let absent = try await ctl(["instances", "list"], in: dir, ["DATABASE_URL": envDB.config.urlForChildren])
        #expect(absent.status == 0 && absent.output.contains("C-in-env-db"), "\(absent.output)")
        let missing = try await ctl(["--config", "/nonexistent/baton.yaml", "instances", "list"], in: dir,
                                    ["DATABASE_URL": envDB.config.urlForChildren])
        #expect(missing.status == 1, "\(missing.output)")
        #expect(missing.output == "error: --config /nonexistent/baton.yaml: no such file\n", "\(missing.output)")

        let urlFile = try write(fileDB.config.urlForChildren + "\n", "database-url", in: dir)
        _ = try write("database_url_file: \(urlFile)\n", "baton.yaml", in: dir)
        let present = try await ctl(["instances", "list"], in: dir)
        #expect(present.status == 0 && present.output.contains("C-in-file-db"), "\(present.output)")
    }

    @Test("the file's mistakes are reported as the worker reports them, and migrate refuses a transaction pooler")
    func fileMistakes() async throws {
        let dir = try directory()
        let typo = try write("database_url_fiel: /run/secrets/db\n", "typo.yaml", in: dir)
        let unknown = try await ctl(["--config", typo, "instances", "list"], in: dir)
        #expect(unknown.status == 1)
        #expect(unknown.output.contains(#"\#(typo):1: database_url_fiel: unknown setting (did you mean "database_url_file"?)"#), "\(unknown.output)")
        let secret = try write("database_url: postgresql://ops:inFileSecret@db.invalid/baton\n", "secret.yaml", in: dir)
        let refused = try await ctl(["instances", "list", "--config", secret], in: dir)
        #expect(refused.status == 1 && refused.output.contains("\(secret):1: database_url: the URL holds a password"), "\(refused.output)")
        #expect(!refused.output.contains("inFileSecret"))
        let pooled = try write("pooler: pgbouncer\n", "pooled.yaml", in: dir)
        let migrate = try await ctl(["--config", pooled, "migrate"], in: dir, ["DATABASE_URL": "postgresql://baton@db.invalid/baton"])
        #expect(migrate.status == 1)
        #expect(migrate.output.contains("migrate needs a direct connection, not a transaction pooler (pooler: pgbouncer from \(pooled):1)"),
                "\(migrate.output)")
    }
}
