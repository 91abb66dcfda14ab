import Foundation
import Yams

extension NodeReader {
    /// Parses YAML (or JSON) into a node tree with positions.
    ///
    /// A syntax error is reported as one issue at the position Yams gives. Yams refuses a mapping with a
    /// repeated key; to report repeated keys in place (and every other issue with them), the repeated
    /// keys are renamed — the first character swapped for a private-use one, so no column moves — and
    /// the text parsed again; `key(_:)` undoes the renaming and `fields` reports the repeats.
    /// Returns nil for an empty document (with no issue) or after a syntax error (with one issue).
    func compose(_ text: String) -> Node? {
        var source = Self.untabbedJSON(text)
        for _ in 0..<32 {
            do {
                return try Yams.compose(yaml: source)
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                guard let renamed = renameKeys(duplicates, in: source) else {
                    let names = duplicates.filter { !$0.hasPrefix("<") }.map { "\"\($0)\"" }.joined(separator: ", ")
                    issue(line: context.mark.line, column: context.mark.column, "",
                          "a key appears twice in one mapping\(names.isEmpty ? "" : ": \(names)") (keys must be unique)")
                    return nil
                }
                source = renamed
            } catch let error as YamlError {
                report(error, in: source)
                return nil
            } catch {
                issue(line: 1, column: 1, "", "not valid YAML: \(oneLine(String(describing: error)))")
                return nil
            }
        }
        issue(line: 1, column: 1, "", "too many duplicate keys")
        return nil
    }

    private func report(_ error: YamlError, in source: String) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\(oneLine($0.text)) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            let (line, column) = Self.clamped(line: mark.line, column: mark.column, in: source)
            issue(line: line, column: column, "", "not valid YAML: \(oneLine(problem))\(while_)")
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { Self.position(ofCharacter: $0, in: source) } ?? (1, 1)
            issue(line: line, column: column, "", "not valid YAML: \(oneLine(problem))")
        default:
            issue(line: 1, column: 1, "", "not valid YAML: \(oneLine(String(describing: error)))")
        }
    }

    private func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }

    /// Renames every occurrence of the keys in key position; nil when none was found (no progress).
    private func renameKeys(_ keys: [String], in source: String) -> String? {
        var scalars = Array(source.unicodeScalars)
        var changed = false
        for key in keys {
            let target = Array(key.unicodeScalars)
            guard !target.isEmpty else { continue }
            for start in Self.keyPositions(of: target, in: scalars) {
                guard let replacement = Unicode.Scalar(0xE000 + UInt32(renamedKeys.count)), renamedKeys.count < 6400 else {
                    return nil
                }
                renamedKeys[replacement] = scalars[start]
                scalars[start] = replacement
                changed = true
            }
        }
        guard changed else { return nil }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }

    /// Where `key` (plain or quoted) starts as a mapping key: after the start of a line, `- `, `? `, `{` or `,`,
    /// and followed by `:`.
    static func keyPositions(of key: [Unicode.Scalar], in text: [Unicode.Scalar]) -> [Int] {
        var positions: [Int] = []
        var i = 0
        while i < text.count {
            var start = i
            var quote: Unicode.Scalar?
            if text[i] == "\"" || text[i] == "'" {
                quote = text[i]
                start = i + 1
            }
            let end = start + key.count
            guard end <= text.count, Array(text[start..<end]) == key else {
                i += 1
                continue
            }
            var after = end
            if let quote {
                guard after < text.count, text[after] == quote else { i += 1; continue }
                after += 1
            }
            while after < text.count, text[after] == " " || text[after] == "\t" { after += 1 }
            let colon = after < text.count && text[after] == ":"
            let separated = after + 1 >= text.count || quote != nil || [" ", "\t", "\n", "\r", ",", "}", "]"].contains(text[after + 1])
            if colon, separated, isKeyStart(i, in: text) { positions.append(start) }
            i = end
        }
        return positions
    }

    private static func isKeyStart(_ index: Int, in text: [Unicode.Scalar]) -> Bool {
        var j = index - 1
        while j >= 0, text[j] == " " || text[j] == "\t" { j -= 1 }
        if j < 0 || text[j] == "\n" || text[j] == "\r" || text[j] == "{" || text[j] == "," { return true }
        guard text[j] == "-" || text[j] == "?", index - j > 1 else { return false }
        var k = j - 1
        while k >= 0, text[k] == " " || text[k] == "\t" || text[k] == "-" { k -= 1 }
        return k < 0 || text[k] == "\n" || text[k] == "\r"
    }

    /// JSON may be indented with tabs, which YAML forbids; outside strings a JSON tab is only white space.
    static func untabbedJSON(_ text: String) -> String {
        guard let first = text.first(where: { !$0.isWhitespace }), first == "{" || first == "[", text.contains("\t") else {
            return text
        }
        return text.replacingOccurrences(of: "\t", with: " ")
    }

    /// A position libyaml gives for the end of the input: when the text does not end with a line break,
    /// libyaml reports the line after the last one, which no editor shows; point after the last character instead.
    static func clamped(line: Int, column: Int, in text: String) -> (Int, Int) {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard line > lines.count, let last = lines.last else { return (line, column) }
        return (lines.count, last.unicodeScalars.count + 1)
    }

    /// 1-based line and column of the character at `offset`.
    static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for (i, character) in text.enumerated() {
            if i >= offset { break }
            if character.isNewline { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }
}
