import Foundation

/// Email addresses as Baton accepts them: in a team file (`email:`) and a channel file (`from:`).
/// Stricter than RFC 5322 on purpose: no quoted local parts, comments or groups, and none of the
/// characters that could end an SMTP command or a header line, so an accepted address can be put
/// into `RCPT TO:<…>` and `To:` as it is.
public enum MailAddress {
    /// Characters an address never holds here: separators of addresses, headers and SMTP commands.
    private static let forbidden: Set<Unicode.Scalar> = ["<", ">", "(", ")", "[", "]", ",", ";", ":", "\"", "\\", " "]

    /// `local@domain`: one `@`, a local part of at most 64 bytes, a domain with a dot (or
    /// `localhost`), no spaces, control characters or separators. UTF-8 is allowed (it needs a
    /// server offering SMTPUTF8).
    public static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64, text.utf8.count <= 254 else { return false }
        let domain = parts[1]
        guard domain.contains(".") || domain == "localhost", !domain.hasPrefix("."), !domain.hasSuffix("."),
              !domain.contains("..") else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            !forbidden.contains(scalar) && scalar.value > 0x20 && scalar.value != 0x7f
                && !(0x80...0x9f).contains(scalar.value) && !scalar.properties.isWhitespace
        }
    }

    /// `addr` or `Display Name <addr>`: the display name (nil when none) and the address; nil when
    /// either part is not acceptable (a display name holds no control characters, `<`, `>` or `"`).
    public static func parseMailbox(_ text: String) -> (name: String?, address: String)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") else {
            return isAddress(trimmed) ? (nil, trimmed) : nil
        }
        let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        let name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
        guard isAddress(address),
              name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f && !"<>\"".unicodeScalars.contains($0) })
        else { return nil }
        return (name.isEmpty ? nil : name, address)
    }
}
