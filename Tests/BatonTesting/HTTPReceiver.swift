import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request the receiver got.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var path: String
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Checks `Baton-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>` the way a receiver should.
    public func hasValidSignature(secret: String) -> Bool {
        guard let header = headers["baton-signature"] else { return false }
        var t: String?, v1: String?
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "t" { t = kv[1] } else if kv[0] == "v1" { v1 = kv[1] }
        }
        guard let t, let v1 else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(t).".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == v1
    }
}

/// A real HTTP server on 127.0.0.1 for tests: records every request and answers with what
/// `respond` says (status and extra headers).
public final class HTTPReceiver: Sendable {
    public typealias Responder = @Sendable (ReceivedRequest, Int) -> (status: Int, headers: [(String, String)])
    private let channel: any Channel
    private let log: RequestLog
    /// The port it listens on.
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Starts listening on `port` (0: any free port). `respond` gets each request and its 0-based number.
    /// `hold`: how long each response waits (on the event loop, blocking nothing) before it is sent.
    public init(port: Int = 0, hold: TimeAmount = .zero, respond: @escaping Responder = { _, _ in (200, []) }) async throws {
        let log = RequestLog()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(ReceiverHandler(log: log, hold: hold, respond: respond))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        self.port = channel.localAddress?.port ?? port
        self.log = log
    }

    /// Every request so far.
    public var requests: [ReceivedRequest] { log.all }

    /// Stops listening (the port can be bound again).
    public func stop() async throws { try await channel.close() }
}

/// `@unchecked Sendable`: `requests` is only touched under `lock`.
final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [ReceivedRequest] = []
    var all: [ReceivedRequest] { lock.withLock { requests } }
    func append(_ request: ReceivedRequest) -> Int {
        lock.withLock {
            requests.append(request)
            return requests.count - 1
        }
    }
}

/// Collects one request (head, body, end) and answers it. Each handler belongs to one channel and
/// runs on its event loop only.
final class ReceiverHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let log: RequestLog
    private let respond: HTTPReceiver.Responder
    private let hold: TimeAmount
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(log: RequestLog, hold: TimeAmount, respond: @escaping HTTPReceiver.Responder) {
        self.log = log
        self.hold = hold
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = ReceivedRequest(method: "\(head.method)", path: head.uri, headers: headers, body: body)
            let number = log.append(request)
            let (status, extra) = respond(request, number)
            var responseHeaders = HTTPHeaders([("Content-Length", "0"), ("Connection", "close")])
            for (name, value) in extra { responseHeaders.add(name: name, value: value) }
            let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders)
            self.head = nil
            guard hold > .zero else {
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let loop = context.eventLoop.assumeIsolated()
            loop.scheduleTask(in: hold) {
                context.write(self.wrapOutboundOut(.head(responseHead)), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
