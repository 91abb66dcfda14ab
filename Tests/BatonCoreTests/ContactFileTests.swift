import BatonCore
import Testing

@Suite("Bulk enrollment files (CSV and JSONL)")
struct ContactFileTests {
    func lines(_ problems: [ContactFile.Problem]) -> [String] { problems.map { "\($0.line): \($0.message)" } }

    /// Issue 8: a quoted field with a line break is one value, not the first line of it.
    @Test func aCSVValueWithALineBreakIsKeptWhole() {
        let parsed = ContactFile.parseCSV("contact,note\nC-1,\"line one\nline two\"\nC-2,x\n")
        #expect(parsed.problems.isEmpty)
        #expect(parsed.entries == [
            ContactFile.Entry(line: 2, contact: "C-1", attributes: ["note": "line one\nline two"]),
            ContactFile.Entry(line: 4, contact: "C-2", attributes: ["note": "x"]),
        ])
    }

    /// Issue 13: the row with an unterminated quote is a problem with its line number, never an entry.
    @Test func aCSVRowWithAnUnterminatedQuoteIsReported() {
        let parsed = ContactFile.parseCSV("contact,country,tier,note\nB-1,DE,smb,x\nB-2,FR,smb,\"unterminated\n")
        #expect(parsed.entries.map(\.contact) == ["B-1"])
        #expect(parsed.problems.map(\.line) == [3])
        #expect(parsed.problems.first?.message.contains("never closed") == true)
    }

    @Test func csvHeaderMistakes() {
        #expect(lines(ContactFile.parseCSV("").problems) == ["1: empty file: a header row with a contact column is needed"])
        #expect(lines(ContactFile.parseCSV("id,name\n1,2\n").problems) == ["1: the header has no `contact` column"])
        #expect(lines(ContactFile.parseCSV("contact,x,x\n1,2,3\n").problems) == [#"1: the header names column "x" twice"#])
        #expect(lines(ContactFile.parseCSV("contact,,x\n1,2,3\n").problems) == ["1: column 2 of the header has no name"])
        #expect(lines(ContactFile.parseCSV("contact,\"x\n").problems).first?.hasPrefix("1: the header row cannot be read") == true)
    }

    @Test func csvRowsWithTheWrongFieldCountOrNoContact() {
        let parsed = ContactFile.parseCSV("contact,country\nC-1,DE,extra\n,FR\nC-2,\n")
        #expect(lines(parsed.problems) == ["2: 3 fields, the header has 2", "3: empty contact"])
        #expect(parsed.entries == [ContactFile.Entry(line: 4, contact: "C-2", attributes: [:])])
    }

    /// Issue 8: NUL cannot be stored in PostgreSQL text; it is a line-numbered problem, not a server error.
    @Test func aNulInAJSONLValueIsALineNumberedProblem() {
        let parsed = ContactFile.parseJSONL(#"""
            {"contact": "C-1", "attributes": {"note": "a\u0000b"}}
            {"contact": "C\u0000-2"}
            {"contact": "C-3", "attributes": {"k\u0000": "v"}}
            {"contact": "C-4"}
            """#)
        #expect(lines(parsed.problems) == [
            #"1: attribute "note" contains a NUL character (U+0000), which cannot be stored"#,
            "2: the contact id contains a NUL character (U+0000), which cannot be stored",
            "3: an attribute name contains a NUL character (U+0000), which cannot be stored",
        ])
        #expect(parsed.entries.map(\.contact) == ["C-4"])
    }

    @Test func aNulInACSVValueIsALineNumberedProblem() {
        let parsed = ContactFile.parseCSV("contact,note\nC-1,a\u{0}b\n")
        #expect(lines(parsed.problems) == [#"2: attribute "note" contains a NUL character (U+0000), which cannot be stored"#])
    }

    @Test func jsonlWithCRLFLineEndsAndScalarAttributes() {
        let parsed = ContactFile.parseJSONL("{\"contact\": \"C-1\", \"attributes\": {\"n\": 42, \"b\": true, \"s\": \"x\"}}\r\n\r\n{\"contact\": \"C-2\"}\r\n")
        #expect(parsed.problems.isEmpty)
        #expect(parsed.entries == [
            ContactFile.Entry(line: 1, contact: "C-1", attributes: ["n": "42", "b": "true", "s": "x"]),
            ContactFile.Entry(line: 3, contact: "C-2", attributes: [:]),
        ])
    }

    @Test func overLongAndEmptyContactIds() {
        let long = String(repeating: "x", count: ContactFile.maxContactBytes + 1)
        let parsed = ContactFile.parseJSONL("{\"contact\": \"\(long)\"}\n{\"contact\": \"\"}\n{\"contact\": 7}\n")
        #expect(lines(parsed.problems) == [
            "1: the contact id is 513 bytes long; at most 512 are allowed",
            "2: empty contact id",
            "3: not a JSON object with \"contact\" (a string) and optional \"attributes\" (an object of strings, numbers and booleans)",
        ])
    }
}
