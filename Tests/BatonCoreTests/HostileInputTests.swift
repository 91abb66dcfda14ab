import BatonCore
import Foundation
import Testing

/// A bounded random-input test (fixed seed, a few thousand inputs, well under a second or two) of
/// what users type: the workflow, team and channel loaders and the CSV/JSONL readers. Nothing may
/// crash, and every rejection is one clear line.
@Suite("Hostile input to loaders and readers")
struct HostileInputTests {
    /// Fragments that stress YAML, JSON, CSV and mustache, plus NUL, control characters and non-ASCII text.
    static let fragments = [
        ":", ": ", "- ", "{", "}", "[", "]", ",", "\"", "'", "\\", "\n", "\r\n", "\t", "  ", "#", "&a", "*a", "!!str ",
        "{{", "}}", "{{#x}}", "\u{0}", "\u{1B}", "é", "🚀", "\u{FEFF}", "null", "~", "true", "-1", "1e999", "99999999999999999999",
        "9999999w", "1h30m", "next: ", "goto: ", "steps:", "contact", "\"\"", "\"a\nb\"", "<!channel>", "'; DROP TABLE x; --",
    ]

    static func mutate(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        for _ in 0..<Int(random.next() % 4 + 1) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 5 {
            case 0: bytes.insert(contentsOf: Array(fragments[Int(random.next() % UInt64(fragments.count))].utf8), at: position)
            case 1: if !bytes.isEmpty { bytes.remove(at: position) }
            case 2: bytes = Array(bytes.prefix(position))
            case 3: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: random.next()) }
            default:
                let end = min(bytes.count, position + Int(random.next() % 40))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func random(_ random: inout SplitMix64, count: Int) -> String {
        (0..<count).map { _ in fragments[Int(random.next() % UInt64(fragments.count))] }.joined()
    }

    /// One line: no line breaks, not empty, short enough to read.
    static func isOneClearLine(_ text: String) -> Bool {
        !text.isEmpty && !text.contains(where: \.isNewline) && !text.contains("\u{0}") && text.count < 2000
    }

    func expectLoads(_ name: String, _ load: (String) throws -> Void, seeds: [String], seed: UInt64, count: Int) {
        var random = SplitMix64(seed: seed)
        var rejected = 0
        for n in 0..<count {
            let text = n % 10 == 9 ? Self.random(&random, count: 30) : Self.mutate(seeds[n % seeds.count], &random)
            do {
                try load(text)
            } catch let errors as DefinitionErrors {
                rejected += 1
                #expect(!errors.issues.isEmpty)
                for issue in errors.issues {
                    #expect(Self.isOneClearLine(issue.description), "\(name) input \(n): \(issue.description.debugDescription)")
                }
            } catch {
                Issue.record("\(name) input \(n) threw \(error) instead of DefinitionErrors")
            }
        }
        #expect(rejected > count / 2)  // the mutations do reach the checks
    }

    @Test func workflowFiles() throws {
        let known = try exampleKnownNames()
        let seeds = [try example("inbound-lead.yaml"), try example("demo-lead.yaml")]
        expectLoads("workflow", { _ = try DefinitionLoader.workflow(from: $0, file: "wf.yaml", known: known) },
                    seeds: seeds, seed: 1, count: 1500)
    }

    @Test func teamFiles() throws {
        expectLoads("teams", { _ = try DefinitionLoader.teams(from: $0, file: "teams.yaml") },
                    seeds: [try example("teams.yaml")], seed: 2, count: 1500)
    }

    @Test func channelFiles() throws {
        expectLoads("channels", { _ = try DefinitionLoader.channels(from: $0, file: "channels.yaml") },
                    seeds: [try example("channels.yaml")], seed: 3, count: 1500)
    }

    @Test func contactFiles() throws {
        var random = SplitMix64(seed: 4)
        let seeds = [(try example("contacts.csv"), true), (try example("contacts.jsonl"), false)]
        for n in 0..<3000 {
            let (seed, csv) = seeds[n % 2]
            let text = n % 10 == 9 ? Self.random(&random, count: 40) : Self.mutate(seed, &random)
            let parsed = ContactFile.parse(text, csv: csv)
            let lineCount = text.utf8.filter { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }.count + 1
            for problem in parsed.problems {
                #expect(Self.isOneClearLine(problem.message), "input \(n): \(problem.message.debugDescription)")
                #expect((1...lineCount).contains(problem.line), "input \(n): line \(problem.line)")
            }
            for entry in parsed.entries {
                #expect(ContactFile.check(contact: entry.contact, attributes: entry.attributes) == nil, "input \(n)")
                #expect((1...lineCount).contains(entry.line), "input \(n): line \(entry.line)")
            }
        }
    }
}
