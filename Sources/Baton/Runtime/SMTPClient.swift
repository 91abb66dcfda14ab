import BatonCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Sends one message over SMTP (RFC 5321) on SwiftNIO: EHLO, STARTTLS (RFC 3207) as the channel
/// asks, AUTH PLAIN or LOGIN (RFC 4954), MAIL, RCPT, DATA with dot-stuffing, QUIT. One connection
/// per message: notifications are few, and a fresh session has no state to go stale.
///
/// Errors are one line that names the server and the step, quoting the server's reply; never the
/// commands sent (AUTH carries the password).
struct SMTPClient: Sendable {
    struct Credentials: Sendable {
        var username: String
        var password: String
        /// The variables they came from, to name in errors.
        var usernameEnv: String
        var passwordEnv: String
    }

    var host: String
    var port: Int
    var starttls: StartTLSMode
    var caFile: String?
    var credentials: Credentials?
    /// For the whole session, connect to QUIT.
    var timeout: Duration
    /// The name this client gives in EHLO.
    var heloName: String = SMTPClient.localName

    /// Why a message was not sent: `transient` (4xx, connection trouble, timeouts: try again) or
    /// `permanent` (5xx, a configuration the server refuses: trying again changes nothing).
    enum Failure: Error, CustomStringConvertible {
        case transient(String)
        case permanent(String)

        var description: String {
            switch self {
            case .transient(let text), .permanent(let text): text
            }
        }
    }

    private var server: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Sends `message` (CRLF line ends, not yet dot-stuffed) from `envelopeFrom` to `recipient`.
    func send(from envelopeFrom: String, to recipient: String, message: [UInt8]) async throws(Failure) {
        let deadline = ContinuousClock.now + timeout
        let channel: NIOAsyncChannel<SMTPReply, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                             + timeout.components.attoseconds / 1_000_000_000))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw .transient("cannot connect to \(server): \(Self.connectProblem(error))")
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await channel.executeThenClose { inbound, outbound in
                        var session = Session(client: self, channel: channel.channel, replies: inbound.makeAsyncIterator(),
                                              outbound: outbound)
                        try await session.run(from: envelopeFrom, to: recipient, message: message)
                    }
                }
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    // Closing ends the session's wait for a reply, so the group can finish.
                    channel.channel.close(promise: nil)
                    throw Failure.transient("\(server) did not finish the SMTP session within \(timeout) (the channel's timeout)")
                }
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        } catch let failure as Failure {
            channel.channel.close(promise: nil)
            throw failure
        } catch {
            channel.channel.close(promise: nil)
            throw Self.classify(error, server: server)
        }
    }

    /// TLS that cannot verify the server is a configuration to fix, not a moment to wait out.
    static func classify(_ error: any Error, server: String) -> Failure {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return .permanent("TLS with \(server) failed: its certificate does not verify (a private CA's certificate "
                              + "goes in the channel's ca_file)")
        }
        if text.contains("failedToValidateHostname") {
            return .permanent("TLS with \(server) failed: its certificate is not for this host name")
        }
        if error is NIOSSLError || error is NIOSSLExtraError {
            return .transient("TLS with \(server) failed: \(short(error))")
        }
        if error is CancellationError { return .transient("the SMTP session with \(server) was cancelled") }
        return .transient("SMTP session with \(server) failed: \(short(error))")
    }

    /// Why a connection could not be made, in a few words: `Connection refused`, `timed out`, or
    /// the resolver's answer.
    static func connectProblem(_ error: any Error) -> String {
        if case .connectTimeout? = error as? ChannelError { return "timed out" }
        guard let failure = error as? NIOConnectionError else { return short(error) }
        if let io = failure.connectionErrors.lazy.compactMap({ $0.error as? IOError }).first {
            return String(cString: strerror(io.errnoCode))
        }
        if let first = failure.connectionErrors.first {
            if case .connectTimeout? = first.error as? ChannelError { return "timed out" }
            return short(first.error)
        }
        if failure.dnsAError != nil || failure.dnsAAAAError != nil { return "the host name does not resolve" }
        return short(error)
    }

    static func short(_ error: any Error) -> String {
        MailMessage.oneLine(String(describing: error)).prefix(200).description
    }

    /// This host's name when it is a usable EHLO domain, else `localhost`.
    static let localName: String = {
        let name = ProcessInfo.processInfo.hostName
        return HostName.isValid(name) && !name.contains(":") ? name : "localhost"
    }()

    /// One session's commands in order.
    private struct Session {
        let client: SMTPClient
        let channel: any NIOCore.Channel
        var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var encrypted = false

        var server: String { client.server }

        mutating func read(_ step: String) async throws -> SMTPReply {
            guard let reply = try await replies.next() else {
                throw Failure.transient("\(server) closed the connection \(step)")
            }
            return reply
        }

        func write(_ line: String) async throws {
            try await outbound.write(ByteBuffer(string: line + "\r\n"))
        }

        /// Sends `line` and reads the reply; a reply outside `expected` fails with the step named
        /// (4xx transient, 5xx permanent). `shown` is how the command appears in errors.
        mutating func command(_ line: String, shown: String, expect expected: Set<Int>) async throws -> SMTPReply {
            try await write(line)
            let reply = try await read("after \(shown)")
            guard expected.contains(reply.code) else { throw refused(reply, shown) }
            return reply
        }

        func refused(_ reply: SMTPReply, _ shown: String) -> Failure {
            let line = "\(server) answered \(shown) with \(reply.summary)"
            return reply.isTransient ? .transient(line) : .permanent(line)
        }

        mutating func run(from: String, to: String, message: [UInt8]) async throws {
            let greeting = try await read("before its greeting")
            guard greeting.code == 220 else { throw refused(greeting, "the connection") }
            var extensions = try await hello()
            if extensions["STARTTLS"] != nil, client.starttls != .off {
                _ = try await command("STARTTLS", shown: "STARTTLS", expect: [220])
                try await startTLS()
                extensions = try await hello()
            } else if client.starttls == .required {
                throw Failure.permanent("\(server) does not offer STARTTLS, and the channel has starttls: required "
                                        + "(use a server that offers it, or starttls: opportunistic to send unencrypted)")
            }
            if let credentials = client.credentials {
                try await authenticate(credentials, offered: extensions["AUTH"])
            }
            let needsUTF8 = !(from + to).unicodeScalars.allSatisfy(\.isASCII)
            if needsUTF8, extensions["SMTPUTF8"] == nil {
                throw Failure.permanent("\(server) does not offer SMTPUTF8, which the address \(to) needs")
            }
            _ = try await command("MAIL FROM:<\(from)>\(needsUTF8 ? " SMTPUTF8" : "")", shown: "MAIL FROM", expect: [250])
            _ = try await command("RCPT TO:<\(to)>", shown: "RCPT TO <\(to)>", expect: [250, 251])
            _ = try await command("DATA", shown: "DATA", expect: [354])
            try await outbound.write(ByteBuffer(bytes: SMTPClient.dotStuffed(message)))
            let accepted = try await read("after the message")
            guard accepted.code == 250 else { throw refused(accepted, "the message") }
            // Sent. QUIT is a courtesy: its answer changes nothing.
            try? await write("QUIT")
            _ = try? await replies.next()
        }

        /// EHLO (HELO when the server does not know EHLO): the offered extensions by keyword.
        mutating func hello() async throws -> [String: [String]] {
            try await write("EHLO \(client.heloName)")
            let reply = try await read("after EHLO")
            if reply.code == 500 || reply.code == 502 {
                _ = try await command("HELO \(client.heloName)", shown: "HELO", expect: [250])
                return [:]
            }
            guard reply.code == 250 else { throw refused(reply, "EHLO") }
            var extensions: [String: [String]] = [:]
            for line in reply.lines.dropFirst() {
                let words = line.split(separator: " ").map(String.init)
                guard let keyword = words.first?.uppercased() else { continue }
                extensions[keyword] = Array(words.dropFirst())
            }
            return extensions
        }

        mutating func startTLS() async throws {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = client.caFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    throw Failure.permanent("cannot read ca_file \(caFile) (a PEM file of CA certificates)")
                }
                configuration.additionalTrustRoots = [.file(caFile)]
            }
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw Failure.permanent("cannot set up TLS for \(server): \(SMTPClient.short(error))")
            }
            // An IP address is no server name (SNI): without one, NIOSSL checks the certificate
            // against the address connected to.
            let isAddress = client.host.contains(":") || client.host.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber }
            let name = isAddress ? nil : client.host
            let channel = self.channel
            let handshake = channel.eventLoop.makePromise(of: Void.self)
            try await channel.eventLoop.submit {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: name)
                try channel.pipeline.syncOperations.addHandler(handler, position: ChannelPipeline.SynchronousOperations.Position.first)
                try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(handshake),
                                                               position: ChannelPipeline.SynchronousOperations.Position.after(handler))
            }.get()
            // The handshake's own error (a certificate that does not verify), not the closed
            // channel a write would meet after it.
            try await handshake.futureResult.get()
            encrypted = true
        }

        /// AUTH PLAIN when offered, else AUTH LOGIN. Never over an unencrypted connection to
        /// another host: the password would cross the network readable.
        mutating func authenticate(_ credentials: Credentials, offered: [String]?) async throws {
            guard encrypted || HostName.isLoopback(client.host) else {
                throw Failure.permanent("will not send the password in \(credentials.passwordEnv) to \(server) unencrypted "
                                        + "(it offered no STARTTLS)")
            }
            guard let offered else {
                throw Failure.permanent("\(server) offers no AUTH, but the channel gives username_env and password_env")
            }
            let mechanisms = Set(offered.map { $0.uppercased() })
            let server = self.server
            let refusedLine = { (reply: SMTPReply) -> Failure in
                let line = "\(server) refused the user name in \(credentials.usernameEnv) and the password in "
                    + "\(credentials.passwordEnv): \(reply.summary)"
                return reply.isTransient ? .transient(line) : .permanent(line)
            }
            if mechanisms.contains("PLAIN") {
                let token = Data(([0] + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8))).base64EncodedString()
                try await write("AUTH PLAIN \(token)")
                let reply = try await read("after AUTH PLAIN")
                guard reply.code == 235 else { throw refusedLine(reply) }
            } else if mechanisms.contains("LOGIN") {
                try await write("AUTH LOGIN")
                var reply = try await read("after AUTH LOGIN")
                guard reply.code == 334 else { throw refusedLine(reply) }
                try await write(Data(credentials.username.utf8).base64EncodedString())
                reply = try await read("after the AUTH LOGIN user name")
                guard reply.code == 334 else { throw refusedLine(reply) }
                try await write(Data(credentials.password.utf8).base64EncodedString())
                reply = try await read("after the AUTH LOGIN password")
                guard reply.code == 235 else { throw refusedLine(reply) }
            } else {
                throw Failure.permanent("\(server) offers AUTH \(offered.joined(separator: " ")); Baton speaks PLAIN and LOGIN")
            }
        }
    }

    /// DATA's payload: a `.` doubled at the start of every line, CRLF line ends, then `.` CRLF.
    static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 64)
        var lineStart = true
        for byte in message {
            if lineStart, byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            lineStart = byte == UInt8(ascii: "\n")
        }
        if !(out.suffix(2) == [13, 10]) { out += [13, 10] }
        out += Array(".\r\n".utf8)
        return out
    }
}

/// Completes a promise when the TLS handshake after STARTTLS is done, or fails it with the
/// handshake's error (or when the connection closes first).
private final class TLSHandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private let promise: EventLoopPromise<Void>
    /// Touched only on the channel's event loop.
    private var done = false

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    private func finish(_ result: Result<Void, any Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(ChannelError.ioOnClosedChannel))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(ChannelError.ioOnClosedChannel))
    }
}
