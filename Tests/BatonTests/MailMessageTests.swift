@testable import Baton
import Foundation
import Testing

/// The email channel's message builder and DATA's dot-stuffing, without a server.
@Suite struct MailMessageTests {
    static func message(subject: String, body: String, fromName: String? = "Baton") -> String {
        String(decoding: MailMessage(fromName: fromName, fromAddress: "baton@example.com", toAddress: "ana@example.com",
                                     subject: subject, body: body, date: Date(timeIntervalSince1970: 1_795_000_000),
                                     key: "i1-t2-r0").bytes, as: UTF8.self)
    }

    @Test func headersAreOneLineEachAndInOrder() {
        let text = Self.message(subject: "Lead C-1\r\nBcc: evil@example.net", body: "hi")
        let head = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(head.map { String($0.prefix { $0 != ":" }) } == [
            "Date", "Message-ID", "From", "To", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
        ])
        #expect(head[0] == "Date: Wed, 18 Nov 2026 11:06:40 +0000")
        #expect(head[2] == "From: \"Baton\" <baton@example.com>")
        #expect(head[4] == "Subject: Lead C-1  Bcc: evil@example.net")
        #expect(!text.contains("\r\nBcc:"))
    }

    @Test func messageIDFollowsTheKeySoASecondSendingCarriesTheSameOne() {
        let a = Self.message(subject: "s", body: "a"), b = Self.message(subject: "other", body: "b")
        func id(_ text: String) -> String? { text.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") } }
        #expect(id(a) != nil && id(a) == id(b))
        #expect(id(a)?.hasSuffix("@example.com>") == true)
    }

    @Test func nonASCIISubjectsAndNamesAreEncodedWordsOnShortLines() {
        let subject = String(repeating: "Grüße ✓ ", count: 12)
        let text = Self.message(subject: subject, body: "x", fromName: "Jörg Müller")
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(head.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(head.contains("From: =?utf-8?B?"))
        let words = head.components(separatedBy: "\r\n").filter { $0.hasPrefix("Subject: ") || $0.hasPrefix(" =?utf-8?B?") }
        let decoded = words.compactMap { line -> String? in
            guard let start = line.range(of: "=?utf-8?B?"), let end = line.range(of: "?=", options: .backwards) else { return nil }
            return Data(base64Encoded: String(line[start.upperBound..<end.lowerBound])).map { String(decoding: $0, as: UTF8.self) }
        }.joined()
        #expect(decoded == subject.trimmingCharacters(in: .whitespaces))
    }

    @Test func quotedPrintableKeepsLinesShortAndTextExact() {
        let body = "Grüße = gut \nline with trailing space \n" + String(repeating: "long ", count: 40) + "\n.dot"
        let encoded = MailMessage.quotedPrintable(body)
        #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        #expect(encoded.hasPrefix("Gr=C3=BC=C3=9Fe =3D gut=20\r\n"))
        #expect(encoded.hasSuffix("\r\n.dot"))
        // Undo it: soft breaks away, =XX back to bytes.
        var bytes: [UInt8] = []
        var rest = Array(encoded.replacingOccurrences(of: "=\r\n", with: "").utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "="), let hex = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(hex)
                rest = rest.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        #expect(String(decoding: bytes, as: UTF8.self) == body.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func dotStuffingDoublesLeadingDotsAndEndsTheData() {
        let stuffed = SMTPClient.dotStuffed(Array(".first\r\nmiddle .\r\n.\r\n..two".utf8))
        #expect(String(decoding: stuffed, as: UTF8.self) == "..first\r\nmiddle .\r\n..\r\n...two\r\n.\r\n")
    }

    @Test func defaultSubjectIsTheMessagesFirstLine() {
        var row = OutboxMessage(id: "1", key: "k", instance: "7", workflow: "lead", step: "tell", contact: "C-1", channel: "mail",
                                recipient: "ana", recipient_email: "ana@example.com", message: "Lead C-1 is yours\nmore",
                                status: "pending", attempts: 1, next_attempt_at: Date(), last_error: nil, created_at: Date(),
                                delivered_at: nil, kind: "notification")
        #expect(OutboxRelay.emailSubject(row, template: nil) == "Lead C-1 is yours")
        #expect(OutboxRelay.emailSubject(row, template: "{{workflow}}: {{contact.id}} for {{recipient.id}}") == "lead: C-1 for ana")
        row.message = ""
        #expect(OutboxRelay.emailSubject(row, template: nil) == "Baton: lead")
    }
}
