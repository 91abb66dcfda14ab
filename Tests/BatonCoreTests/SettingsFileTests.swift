import BatonCore
import Testing

/// `baton.yaml`: a flat mapping of known keys, each with its line; the exact message for mistakes.
@Suite struct SettingsFileTests {
    static let known = ["concurrency", "batch_size", "log_level", "database_url"]

    func error(_ text: String) -> String? {
        do {
            _ = try SettingsFile(text: text, path: "baton.yaml", known: Self.known)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func keepsValuesAsWrittenWithTheirLines() throws {
        let file = try SettingsFile(text: """
            # comment
            concurrency: 08
            log_level: "debug"   # quoted
            batch_size: ~
            """, path: "baton.yaml", known: Self.known)
        #expect(file.entries["concurrency"].map { [$0.value, "\($0.line)"] } == ["08", "2"])
        #expect(file.entries["log_level"].map { [$0.value, "\($0.line)"] } == ["debug", "3"])
        #expect(file.entries["batch_size"] == nil, "null is unset")
    }

    @Test func anEmptyFileHasNoEntries() throws {
        #expect(try SettingsFile(text: "", path: "baton.yaml", known: Self.known).entries.isEmpty)
        #expect(try SettingsFile(text: "# only comments\n", path: "baton.yaml", known: Self.known).entries.isEmpty)
    }

    @Test func mistakesNameTheLineAndTheKey() {
        #expect(error("concurrency: 2\nconcurency: 3\n") == #"baton.yaml:2: concurency: unknown setting (did you mean "concurrency"?)"#)
        #expect(error("concurrency:\n  workers: 2\n") == "baton.yaml:1: concurrency: a single value, not a list or a mapping")
        #expect(error("- concurrency: 2\n") == "baton.yaml:1: expected `key: value` lines (a flat mapping)")
        #expect(error("colour: blue\n") == "baton.yaml:1: colour: unknown setting")
        #expect(error("concurrency: [1\n")?.hasPrefix("baton.yaml: not valid YAML") == true)
    }
}
