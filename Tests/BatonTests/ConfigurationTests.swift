import BatonTesting
import Foundation
import Testing

/// Settings of baton-worker and baton-server (docs/operations.md, "Configuration"): the flag, then
/// `BATON_*`, then the configuration file, then the default; `--print-config` says which gave each
/// value and loads back as a file. Real processes, no database.
@Suite("Configuration file and environment")
struct ConfigurationTests {
    /// A fresh directory for this test's files.
    func directory() throws -> String { try ScratchFiles.directory("config") }

    /// Writes `text` to `name` in `directory`; returns the path.
    func write(_ text: String, _ name: String, in directory: String) throws -> String {
        try ScratchFiles.write(text, name, in: directory)
    }

    /// No database and no stray settings from the test's own environment.
    static let clean = ["DATABASE_URL": "", "BATON_CONFIG": "", "BATON_POOLER": "", "BATON_LISTEN_URL": "", "BATON_LISTEN": ""]

    func worker(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("baton-worker"), arguments, environment: Self.clean.merging(environment) { $1 })
    }

    /// The `key: value  # source` line of `key`, nil when the key is not set.
    func line(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").map(String.init).first { $0.hasPrefix("\(key): ") }
    }

    @Test("flag beats BATON_* beats the file beats the default, as --print-config shows")
    func precedence() async throws {
        let dir = try directory()
        let file = try write("""
            # shared by worker and server
            concurrency: 3
            batch_size: 7
            lease: 20s
            pool_size: 4
            log_level: notice
            """, "baton.yaml", in: dir)
        let (status, output) = try await worker(
            ["--print-config", "--config", file, "--lease", "25s"],
            ["BATON_BATCH_SIZE": "9", "BATON_LEASE": "15s", "BATON_LOG_LEVEL": "warning"])
        #expect(status == 0, "\(output)")
        #expect(line("lease", in: output) == "lease: 25s  # --lease", "\(output)")
        #expect(line("batch_size", in: output) == "batch_size: 9  # BATON_BATCH_SIZE")
        #expect(line("log_level", in: output) == "log_level: warning  # BATON_LOG_LEVEL")
        #expect(line("concurrency", in: output) == "concurrency: 3  # \(file):2")
        #expect(line("drain_limit", in: output) == "drain_limit: 30s  # default")
        #expect(line("pool_size", in: output) == nil, "a server key in the file is accepted and ignored: \(output)")
        #expect(output.contains("statement_timeout: 12.5 seconds"), "the lease from the flag is the one used")
    }

    @Test("--print-config's output loads back as a configuration file with the same values")
    func printedConfigurationLoadsBack() async throws {
        let dir = try directory()
        let first = try await worker(
            ["--print-config", "--concurrency", "5", "--metrics-port", "9191", "--no-schedules", "--id", "w-1",
             "--database-url", "postgresql://ops:s3cretPW@db.invalid:6543/baton?sslmode=require"],
            ["BATON_POLL_INTERVAL": "250ms"])
        #expect(first.status == 0, "\(first.output)")
        let file = try write(first.output, "printed.yaml", in: dir)
        let second = try await worker(["--print-config", "--config", file])
        #expect(second.status == 0, "\(second.output)")
        for (key, value) in [("concurrency", "5"), ("metrics_port", "9191"), ("no_schedules", "true"), ("id", "w-1"),
                             ("poll_interval", "250ms"), ("database_url", "postgresql://ops@db.invalid:6543/baton?sslmode=require")] {
            let shown = try #require(line(key, in: second.output), "\(key) in \(second.output)")
            #expect(shown.hasPrefix("\(key): \(value)  # \(file):"), "\(shown)")
        }
        #expect(!first.output.contains("s3cretPW") && !second.output.contains("s3cretPW"))
    }

    @Test("./baton.yaml is read when present, and nothing is wrong when it is not")
    func defaultFileInTheCurrentDirectory() async throws {
        let dir = try directory()
        let binary = try Engine.binary("baton-worker")
        let absent = try await runProgram("/bin/sh", ["-c", "cd '\(dir)' && exec '\(binary)' --print-config"], environment: Self.clean)
        #expect(absent.status == 0, "\(absent.output)")
        #expect(line("batch_size", in: absent.output) == "batch_size: 50  # default")
        _ = try write("batch_size: 12\n", "baton.yaml", in: dir)
        let present = try await runProgram("/bin/sh", ["-c", "cd '\(dir)' && exec '\(binary)' --print-config"], environment: Self.clean)
        #expect(present.status == 0, "\(present.output)")
        #expect(line("batch_size", in: present.output) == "batch_size: 12  # baton.yaml:1", "\(present.output)")
    }

    @Test("an unknown key is an error naming file:line and the key it resembles")
    func unknownKey() async throws {
        let file = try write("concurrency: 2\nbatch_sise: 10\n", "typo.yaml", in: try directory())
        let (status, output) = try await worker(["--print-config", "--config", file])
        #expect(status != 0)
        #expect(output.contains(#"\#(file):2: batch_sise: unknown setting (did you mean "batch_size"?)"#), "\(output)")
    }

    @Test("a bad value or a wrong type in the file is an error naming file:line and the key")
    func badValueInTheFile() async throws {
        let dir = try directory()
        let bad = try write("log_level: notice\nconcurrency: lots\n", "bad.yaml", in: dir)
        let first = try await worker(["--print-config", "--config", bad])
        #expect(first.status != 0)
        #expect(first.output.contains("\(bad):2: concurrency: not a number (got lots)"), "\(first.output)")
        let list = try write("lease: [10s, 20s]\n", "list.yaml", in: dir)
        let second = try await worker(["--print-config", "--config", list])
        #expect(second.status != 0)
        #expect(second.output.contains("\(list):1: lease: a single value, not a list or a mapping"), "\(second.output)")
        let level = try write("\nlog_level: loud\n", "level.yaml", in: dir)
        let third = try await worker(["--print-config", "--config", level])
        #expect(third.output.contains("\(level):2: log_level: one of trace, debug"), "\(third.output)")
    }

    @Test("a bad value from the environment names the variable")
    func badValueInTheEnvironment() async throws {
        let (status, output) = try await worker(["--print-config"], ["BATON_CONCURRENCY": "abc"])
        #expect(status != 0)
        #expect(output.contains("BATON_CONCURRENCY=abc: not a number"), "\(output)")
        let toggle = try await worker(["--print-config"], ["BATON_UNTIL_IDLE": "maybe"])
        #expect(toggle.status != 0 && toggle.output.contains("BATON_UNTIL_IDLE=maybe: true or false"), "\(toggle.output)")
    }

    @Test("a switch set true in the file or the environment is turned off by its --no- flag, as --print-config shows")
    func switchesTurnedOffByFlags() async throws {
        let file = try write("until_idle: true\nonly_outbox: true\nno_schedules: true\n", "baton.yaml", in: try directory())
        let on = try await worker(["--print-config", "--config", file, "--no-only-outbox"], ["BATON_NO_OUTBOX": "true"])
        #expect(on.status == 0, "\(on.output)")
        #expect(line("until_idle", in: on.output) == "until_idle: true  # \(file):1", "\(on.output)")
        #expect(line("no_outbox", in: on.output) == "no_outbox: true  # BATON_NO_OUTBOX", "\(on.output)")
        let (status, output) = try await worker(
            ["--print-config", "--config", file, "--no-until-idle", "--no-only-outbox", "--schedules", "--outbox"],
            ["BATON_NO_OUTBOX": "true"])
        #expect(status == 0, "\(output)")
        #expect(line("until_idle", in: output) == "until_idle: false  # --no-until-idle", "\(output)")
        #expect(line("only_outbox", in: output) == "only_outbox: false  # --no-only-outbox", "\(output)")
        #expect(line("no_schedules", in: output) == "no_schedules: false  # --schedules", "\(output)")
        #expect(line("no_outbox", in: output) == "no_outbox: false  # --outbox", "\(output)")
        #expect(output.contains("# schedules: true") && output.contains("# outbox_relay: true"), "\(output)")
        // Today's spellings keep their meaning.
        let old = try await worker(["--print-config", "--config", "/dev/null", "--until-idle", "--no-outbox", "--no-schedules"])
        #expect(line("until_idle", in: old.output) == "until_idle: true  # --until-idle", "\(old.output)")
        #expect(line("no_outbox", in: old.output) == "no_outbox: true  # --no-outbox", "\(old.output)")
        #expect(line("no_schedules", in: old.output) == "no_schedules: true  # --no-schedules", "\(old.output)")
    }

    @Test("a missing --config file is an error; so is a missing BATON_CONFIG file")
    func missingConfigFile() async throws {
        let (status, output) = try await worker(["--print-config", "--config", "/nonexistent/baton.yaml"])
        #expect(status != 0)
        #expect(output.contains("--config /nonexistent/baton.yaml: no such file"), "\(output)")
        let fromEnvironment = try await worker(["--print-config"], ["BATON_CONFIG": "/nonexistent/other.yaml"])
        #expect(fromEnvironment.status != 0)
        #expect(fromEnvironment.output.contains("BATON_CONFIG /nonexistent/other.yaml: no such file"), "\(fromEnvironment.output)")
    }

    @Test("no password is printed: database URL from a flag, a file or the environment, the listen URL")
    func secretsNeverPrinted() async throws {
        let dir = try directory()
        let urlFile = try write("postgresql://ops:fileSecret1@db.invalid:5432/baton\n", "db-url", in: dir)
        let config = try write("database_url_file: \(urlFile)\n", "baton.yaml", in: dir)
        let fromFile = try await worker(["--print-config", "--config", config],
                                        ["BATON_LISTEN_URL": "host=db.invalid user=ops password=envSecret2 dbname=baton"])
        #expect(fromFile.status == 0, "\(fromFile.output)")
        #expect(line("database_url_file", in: fromFile.output) == "database_url_file: \(urlFile)  # \(config):1")
        #expect(fromFile.output.contains("database: postgresql://ops@db.invalid:5432/baton"))
        #expect(line("listen_url", in: fromFile.output) == "listen_url: host=db.invalid user=ops dbname=baton  # BATON_LISTEN_URL, password not shown",
                "\(fromFile.output)")
        let fromEnvironment = try await worker(["--print-config"], ["DATABASE_URL": "postgresql://ops:envSecret3@db.invalid/baton"])
        #expect(line("database_url", in: fromEnvironment.output) == "database_url: postgresql://ops@db.invalid/baton  # DATABASE_URL, password not shown",
                "\(fromEnvironment.output)")
        for output in [fromFile.output, fromEnvironment.output] {
            #expect(!output.contains("Secret"), "\(output)")
        }
    }

    @Test("a password written into the file is refused, without echoing it")
    func passwordInTheFileIsRefused() async throws {
        let file = try write("database_url: postgresql://ops:inFileSecret@db.invalid/baton\n", "baton.yaml", in: try directory())
        let (status, output) = try await worker(["--print-config", "--config", file])
        #expect(status != 0)
        #expect(output.contains("\(file):1: database_url: the URL holds a password"), "\(output)")
        #expect(!output.contains("inFileSecret"))
    }

    @Test("baton-server reads the same file (ignoring the worker's keys) and BATON_LISTEN as before")
    func serverSettings() async throws {
        let file = try write("concurrency: 8\npool_size: 4\npublic_url: https://baton.example.com\n", "baton.yaml", in: try directory())
        let (status, output) = try await runProgram(
            try Engine.binary("baton-server"), ["--print-config", "--config", file, "--max-body-bytes", "2048"],
            environment: Self.clean.merging(["BATON_LISTEN": "0.0.0.0:9999", "BATON_POOL_SIZE": "6"]) { $1 })
        #expect(status == 0, "\(output)")
        #expect(line("listen", in: output) == "listen: 0.0.0.0:9999  # BATON_LISTEN", "\(output)")
        #expect(line("pool_size", in: output) == "pool_size: 6  # BATON_POOL_SIZE")
        #expect(line("public_url", in: output) == "public_url: https://baton.example.com  # \(file):3")
        #expect(line("max_body_bytes", in: output) == "max_body_bytes: 2048  # --max-body-bytes")
        #expect(line("concurrency", in: output) == nil)
        let refused = try await runProgram(try Engine.binary("baton-server"), ["--print-config"],
                                           environment: Self.clean.merging(["BATON_LISTEN": "nowhere"]) { $1 })
        #expect(refused.status != 0 && refused.output.contains("BATON_LISTEN=nowhere: give HOST:PORT"), "\(refused.output)")
    }

    @Test("examples/baton.yaml loads in both programs and gives every default")
    func exampleFile() async throws {
        let example = packageRoot.appendingPathComponent("examples/baton.yaml").path
        for program in ["baton-worker", "baton-server"] {
            let withFile = try await runProgram(try Engine.binary(program), ["--print-config", "--config", example], environment: Self.clean)
            let without = try await runProgram(try Engine.binary(program), ["--print-config", "--config", "/dev/null"], environment: Self.clean)
            #expect(withFile.status == 0 && without.status == 0, "\(withFile.output)\n\(without.output)")
            let defaults = without.output.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.hasSuffix("  # default") }
            #expect(!defaults.isEmpty)
            for line in defaults {
                let key = String(line.prefix { $0 != ":" })
                let setting = try #require(self.line(key, in: withFile.output), "\(program): \(key) missing from the example")
                #expect(setting.hasPrefix(line.dropLast("  # default".count) + "  # \(example):"), "\(program): \(setting)")
            }
        }
    }
}
