import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and its text lines (`250-first`, …, `250 last`).
struct SMTPReply: Sendable, Equatable {
    var code: Int
    /// The text after each line's code and separator.
    var lines: [String]

    /// 2xx and 3xx: the command went through (3xx: go on with the next part).
    var isPositive: Bool { (200..<400).contains(code) }
    /// 4xx: try again later.
    var isTransient: Bool { (400..<500).contains(code) }

    /// `550 5.1.1 no such user`, on one line and cut, for errors and logs.
    var summary: String {
        let text = lines.joined(separator: " ").unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : String($0) }.joined()
        return "\(code) \(text.prefix(200))"
    }
}

/// Splits the server's bytes into replies. A line longer than `maxLine` or a reply of more than
/// `maxLines` lines is a protocol error: a broken or hostile server cannot make the relay buffer without end.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    static let maxLine = 4096
    static let maxLines = 128

    private var pending: [String] = []
    private var pendingCode: Int?

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxLine { throw SMTPProtocolError("a reply line longer than \(Self.maxLine) bytes") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard var line = buffer.readString(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200..<600).contains(code),
              bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-")
        else { throw SMTPProtocolError("not an SMTP reply: \(SMTPReply(code: 0, lines: [line]).summary.dropFirst(2))") }
        if let pendingCode, pendingCode != code { throw SMTPProtocolError("a multi-line reply changed its code") }
        pendingCode = code
        pending.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        if pending.count > Self.maxLines { throw SMTPProtocolError("a reply of more than \(Self.maxLines) lines") }
        if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") {
            context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: pending)))
            pending = []
            pendingCode = nil
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// The server broke the protocol (a malformed reply); one line, no secrets.
struct SMTPProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
