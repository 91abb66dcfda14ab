import BatonCore
import Testing

@Suite("RFC 4180 CSV reader")
struct CSVReaderTests {
    /// Each record as `line:field|field`, each malformed one as `line!message`.
    func read(_ text: String) -> [String] {
        CSVReader.records(text).map { result in
            switch result {
            case .success(let record): return "\(record.line):" + record.fields.joined(separator: "|")
            case .failure(let malformed): return "\(malformed.line)!\(malformed.message)"
            }
        }
    }

    @Test func plainRecordsAndBlankLines() {
        #expect(read("a,b,c\n1,2,3\n\n4,5,6") == ["1:a|b|c", "2:1|2|3", "4:4|5|6"])
    }

    @Test func quotedFieldsHoldCommasDoubledQuotesAndLineBreaks() {
        let text = "contact,note\nC-1,\"Vogel, Dirk\"\nC-2,\"say \"\"hi\"\"\"\nC-3,\"line one\nline two\"\nC-4,x\n"
        #expect(read(text) == ["1:contact|note", "2:C-1|Vogel, Dirk", "3:C-2|say \"hi\"", "4:C-3|line one\nline two", "6:C-4|x"])
    }

    @Test func crlfEndsRecordsAndStaysInsideQuotes() {
        #expect(read("a,b\r\n1,\"x\r\ny\"\r\n2,3\r\n") == ["1:a|b", "2:1|x\r\ny", "4:2|3"])
    }

    @Test func emptyFieldsTrailingCommasAndAFinalLineWithoutNewline() {
        #expect(read("a,,c,\n,,,\n\"\",x,\"\",y") == ["1:a||c|", "2:|||", "3:|x||y"])
    }

    @Test func blanksAroundFieldsAndQuotesAreTrimmedButNotInsideQuotes() {
        #expect(read(" a , \" b \" ,c\t\n") == ["1:a| b |c"])
    }

    @Test func aByteOrderMarkIsDropped() {
        #expect(read("\u{FEFF}contact,x\nC-1,1\n") == ["1:contact|x", "2:C-1|1"])
    }

    /// Issue 13: an unclosed quote is reported on its line, and the lines after it are still read.
    @Test func anUnclosedQuoteIsReportedAndReadingGoesOn() {
        let lines = read("contact,country,tier,note\nB-1,DE,smb,ok\nB-2,FR,smb,\"unterminated\nB-3,IT,smb,fine\n")
        #expect(lines.count == 4)
        #expect(lines[0...1] == ["1:contact|country|tier|note", "2:B-1|DE|smb|ok"])
        #expect(lines[2].hasPrefix("3!field 4 opens a quote that is never closed"))
        #expect(lines[3] == "4:B-3|IT|smb|fine")
    }

    @Test func strayQuotesAreMalformed() {
        let lines = read("a\"b,c\n\"x\"y,z\nok,1\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("1!a quote inside unquoted field 1"))
        #expect(lines[1].hasPrefix("2!text after the closing quote of field 1"))
        #expect(lines[2] == "3:ok|1")
    }

    @Test func lineNumbersCountLineBreaksInsideQuotes() {
        #expect(read("a\n\"1\n2\n3\"\nb\"\n") .last?.hasPrefix("5!a quote inside unquoted field 1") == true)
    }
}
