import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// `batonctl start WORKFLOW --file` with hostile files (issue 11, defects 8 and 13).
@Suite("Bulk enrollment files", .serialized)
struct BulkEnrollmentTests {
    func ctl(_ engine: Engine, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProgram(try Engine.binary("batonctl"), arguments, environment: ["DATABASE_URL": engine.config.urlForChildren])
    }

    func file(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(getpid())-bulk-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// With --strict a file whose lines are all good but whose storing fails part-way stores nothing:
    /// one transaction, not one per batch.
    @Test func strictStoresNothingWhenTheFileDoesNotCommitWhole() async throws {
        let engine = try await Engine.make("bulkstrict", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        // The database refuses the third contact (a stand-in for any failure after earlier batches).
        _ = try await engine.store.pool.withConnection { connection in
            try await connection.executeScript("""
                CREATE FUNCTION refuse_c3() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.id = 'C-3' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
                CREATE TRIGGER refuse_c3 BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse_c3();
                """)
        }
        let path = try file("strict.csv", "contact,country\nC-1,DE\nC-2,FR\nC-3,IT\nC-4,ES\n")
        let result = try await ctl(engine, ["start", "sla", "--file", path, "--strict", "--batch-size", "1"])
        #expect(result.status != 0, "\(result.output)")
        #expect(try await engine.scalar("SELECT count(*) FROM contacts") == 0)
        #expect(try await engine.scalar("SELECT count(*) FROM workflow_instances") == 0)
    }

    /// A NUL in a JSONL value was a `server error 22P05` (exit 2); it is that line's problem now.
    @Test func aNulInAJSONLValueIsReportedWithItsLine() async throws {
        let engine = try await Engine.make("bulknul", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("nul.jsonl", #"""
            {"contact": "C-1", "attributes": {"note": "fine"}}
            {"contact": "C-2", "attributes": {"note": "a\u0000b"}}
            """#)
        let result = try await ctl(engine, ["start", "sla", "--file", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(#"\#(path):2: attribute "note" contains a NUL character (U+0000), which cannot be stored (skipped)"#))
        #expect(try await engine.scalar("SELECT string_agg(id, ',') FROM contacts") == "C-1")
        let strict = try await ctl(engine, ["start", "sla", "--file", path, "--strict"])
        #expect(strict.status == 1)
        #expect(strict.output.contains("1 bad line(s) in \(path); nothing was enrolled (--strict)"))
    }

    /// A quoted CSV field with a line break was cut at the break (`line one`); RFC 4180 keeps it whole.
    @Test func aQuotedCSVFieldKeepsItsLineBreak() async throws {
        let engine = try await Engine.make("bulkcsvnl", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("multiline.csv", "contact,note\r\nC-1,\"line one\nline two\"\r\nC-2,\"say \"\"hi\"\", then go\"\r\n")
        let result = try await ctl(engine, ["start", "sla", "--file", path, "--strict"])
        #expect(result.status == 0, "\(result.output)")
        #expect(try await engine.scalar("SELECT attributes->>'note' FROM contacts WHERE id = 'C-1'") == "line one\nline two")
        #expect(try await engine.scalar("SELECT attributes->>'note' FROM contacts WHERE id = 'C-2'") == #"say "hi", then go"#)
    }

    /// An unterminated quote was enrolled silently; it is reported with its line, and the lines
    /// after it are still enrolled.
    @Test func aCSVRowWithAnUnterminatedQuoteIsReported() async throws {
        let engine = try await Engine.make("bulkcsvquote", workflows: [StepKindTests.sla])
        defer { Task { await engine.close() } }
        let path = try file("quote.csv", "contact,country,tier,note\nB-1,DE,smb,x\nB-2,FR,smb,\"unterminated\nB-3,IT,smb,y\n")
        let result = try await ctl(engine, ["start", "sla", "--file", path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\(path):3: field 4 opens a quote that is never closed"))
        #expect(try await engine.scalar("SELECT string_agg(id, ',' ORDER BY id) FROM contacts") == "B-1,B-3")
        let strict = try await ctl(engine, ["start", "sla", "--file", path, "--strict"])
        #expect(strict.status == 1)
    }
}
