import AsyncHTTPClient
import Baton
import BatonTesting
import Foundation
import NIOCore
import NIOHTTP1

/// A real `baton-server` process on a free loopback port, over an Engine's database, and a client
/// that speaks to it over HTTP.
final class APIServer: Sendable {
    let process: ChildProcess
    let port: Int
    let base: String
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    /// A response as the tests read it.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object (empty when it is not one).
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// The body as a JSON array (empty when it is not one).
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]] ?? [] }
        var contentType: String { headers.first(name: "content-type") ?? "" }
    }

    init(_ engine: Engine, arguments: [String] = [], environment: [String: String] = [:]) async throws {
        port = try freePort()
        base = "http://127.0.0.1:\(port)"
        process = try ChildProcess(try Engine.binary("baton-server"),
                                   ["--listen", "127.0.0.1:\(port)", "--log-format", "text"] + arguments,
                                   environment: environment.merging(["DATABASE_URL": engine.config.urlForChildren]) { _, new in new })
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let reply = try? await get("/healthz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.send(SIGKILL)
        throw TestSetupError("baton-server did not start within 30 s:\n\(process.output)")
    }

    func get(_ path: String, token: String? = nil) async throws -> Reply {
        try await send("GET", path, token: token)
    }

    func send(_ method: String, _ path: String, token: String? = nil, json: Any? = nil, body: String? = nil,
              headers: [String: String] = [:]) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed])
            request.body = .bytes(ByteBuffer(data: data))
            request.headers.add(name: "Content-Type", value: "application/json")
        } else if let body {
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
    }

    /// Stops the server with SIGTERM and returns its exit status.
    func stop() async -> Int32 {
        process.send(SIGTERM)
        return await process.wait()
    }

    deinit { process.send(SIGKILL) }
}

/// A loopback TCP port nobody listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSetupError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSetupError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSetupError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
