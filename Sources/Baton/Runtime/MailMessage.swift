import Crypto
import Foundation

/// A plain-text email as RFC 5322 and MIME (RFC 2045-2047) want it: CRLF line ends, the headers
/// Date, Message-ID, From, To, Subject, MIME-Version, Content-Type (text/plain; charset=utf-8),
/// Content-Transfer-Encoding (quoted-printable) and Auto-Submitted, then the body. Every header
/// value is made one line first (control characters, CR and LF become spaces), so no text from a
/// contact, a template or a file can start a header of its own. Non-ASCII subjects and display
/// names are RFC 2047 encoded-words. Dot-stuffing belongs to SMTP's DATA, not here.
struct MailMessage: Sendable {
    var fromName: String?
    var fromAddress: String
    var toAddress: String
    var subject: String
    var body: String
    var date: Date
    /// The outbox row's idempotency key: the Message-ID derives from it, so a delivery sent twice
    /// (at least once) carries the same Message-ID and receivers can tell.
    var key: String

    /// The longest subject kept, in characters.
    static let maxSubject = 200

    /// The whole message, CRLF line ends, ending in CRLF.
    var bytes: [UInt8] {
        var lines: [String] = []
        lines.append("Date: \(Self.rfc5322Date(date))")
        lines.append("Message-ID: \(messageID)")
        lines.append("From: \(Self.mailbox(name: fromName, address: fromAddress))")
        lines.append("To: <\(Self.oneLine(toAddress))>")
        lines.append("Subject: \(Self.encodedText(Self.subjectLine(subject)))")
        lines.append("MIME-Version: 1.0")
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: quoted-printable")
        // RFC 3834: an automatic message; out-of-office replies should not answer it.
        lines.append("Auto-Submitted: auto-generated")
        var text = lines.joined(separator: "\r\n") + "\r\n\r\n"
        text += Self.quotedPrintable(body)
        if !text.hasSuffix("\r\n") { text += "\r\n" }
        return Array(text.utf8)
    }

    /// `<baton.<32 hex of SHA-256(key)>@<the sender's domain>>`.
    var messageID: String {
        let digest = SHA256.hash(data: Array(key.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let domain = fromAddress.split(separator: "@").last.map(String.init) ?? ""
        let usable = !domain.isEmpty && domain.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic
            || ("0"..."9").contains($0) || $0 == "." || $0 == "-") }
        return "<baton.\(digest)@\(usable ? domain : "baton.invalid")>"
    }

    /// The subject as one line of at most `maxSubject` characters.
    static func subjectLine(_ subject: String) -> String {
        let line = oneLine(subject).trimmingCharacters(in: .whitespaces)
        return line.count > maxSubject ? String(line.prefix(maxSubject - 1)) + "…" : line
    }

    /// Control characters (CR and LF among them) become spaces.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7f || (0x80...0x9f).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" ? " " : $0
        }))
    }

    /// `"Display Name" <addr>` (quoted, or an encoded-word when not ASCII), or `<addr>`.
    static func mailbox(name: String?, address: String) -> String {
        guard let name = name.map({ oneLine($0).trimmingCharacters(in: .whitespaces) }), !name.isEmpty else {
            return "<\(oneLine(address))>"
        }
        let shown = name.unicodeScalars.allSatisfy(\.isASCII)
            ? "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            : encodedWords(name)
        return "\(shown) <\(oneLine(address))>"
    }

    /// Printable ASCII as it is; anything else as RFC 2047 encoded-words.
    static func encodedText(_ text: String) -> String {
        text.unicodeScalars.allSatisfy({ $0.isASCII }) && !text.contains("=?") ? text : encodedWords(text)
    }

    /// `=?utf-8?B?…?=` words of at most 36 UTF-8 bytes each (never splitting a character),
    /// folded onto continuation lines, so no header line passes 78 characters.
    static func encodedWords(_ text: String) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 36, !chunk.isEmpty {
                words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// RFC 2045 quoted-printable: lines of at most 76 characters (soft breaks `=`), CRLF line ends.
    static func quotedPrintable(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var out: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var encoded = ""
            for (i, byte) in bytes.enumerated() {
                let last = i == bytes.count - 1
                let token: String
                if (byte == 0x20 || byte == 0x09) && !last {
                    token = String(UnicodeScalar(byte))
                } else if (33...126).contains(byte) && byte != UInt8(ascii: "=") {
                    token = String(UnicodeScalar(byte))
                } else {
                    token = String(format: "=%02X", byte)
                }
                if encoded.utf8.count + token.utf8.count > 75 {
                    out.append(encoded + "=")
                    encoded = ""
                }
                encoded += token
            }
            out.append(encoded)
        }
        return out.joined(separator: "\r\n")
    }

    /// `Thu, 26 Nov 2026 03:04:05 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
