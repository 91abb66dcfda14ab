/// User text inside a one-line message: whatever a user typed (a key, a value, a file name) may
/// hold a newline, a tab, a NUL, an escape sequence or a Unicode line separator, any of which would
/// break the message across lines or garble a terminal. They are shown escaped, as Swift writes them
/// (`\n`, `\t`, `\0`, `\u{2028}`); everything else stays as typed.
public enum OneLine {
    /// `text` with its control characters and line and paragraph separators escaped.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) { result += scalar.escaped(asASCII: true) } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    /// `text` escaped and cut to its first `limit` characters (with "…" when cut): a value quoted back to its author.
    public static func shown(_ text: String, limit: Int = 64) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return escaped(text) }
        var prefix = ""
        prefix.unicodeScalars.append(contentsOf: scalars.prefix(limit))
        return escaped(prefix) + "…"
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
