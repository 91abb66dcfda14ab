import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real SMTP server on loopback (scripts/fake-smtp.py on aiosmtpd, in the venv `.venv` that
/// scripts/test installs): optionally STARTTLS with a self-signed certificate made with openssl for
/// this server, AUTH with a user and password. Each message it accepts is read back as `Received`.
public final class FakeSMTP: Sendable {
    /// What the server saw of one message.
    public struct Received: Decodable, Sendable {
        public var mail_from: String
        public var rcpt_tos: [String]
        public var mail_options: [String]
        public var tls: Bool
        public var authenticated: Bool
        /// The message as received (SMTP's dot-stuffing already undone).
        public var raw: String
        /// Name and value of every header, as Python's email parser decodes them.
        public var headers: [[String]]
        /// The decoded text body.
        public var body: String?

        /// The values of the headers called `name` (any case).
        public func header(_ name: String) -> [String] {
            headers.filter { $0.first?.lowercased() == name.lowercased() }.compactMap { $0.last }
        }
    }

    public let port: Int
    /// The certificate to trust (the channel's ca_file), when the server offers STARTTLS.
    public let certificate: String?
    private let directory: URL
    private let process: ChildProcess

    /// The venv's Python, when aiosmtpd is installed there.
    public static var python: String? {
        let python = packageRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let lib = packageRoot.appendingPathComponent(".venv/lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        let installed = versions.contains {
            FileManager.default.fileExists(atPath: lib.appendingPathComponent("\($0)/site-packages/aiosmtpd").path)
        }
        return installed ? python : nil
    }

    /// Starts the server. `tls`: offer STARTTLS (and require it); `user`/`password`: require AUTH;
    /// `excludeAuth`: mechanisms not to offer; `rcptReply`: answer every RCPT with this reply.
    public init(tls: Bool = true, user: String? = nil, password: String? = nil, excludeAuth: [String] = [],
                rcptReply: String? = nil) async throws {
        guard let python = Self.python else {
            throw TestSetupError("aiosmtpd is not installed in .venv (scripts/test installs it)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-smtp-\(UUID().uuidString)")
        let messages = directory.appendingPathComponent("messages")
        try FileManager.default.createDirectory(at: messages, withIntermediateDirectories: true)
        var arguments = [packageRoot.appendingPathComponent("scripts/fake-smtp.py").path, "--dir", messages.path]
        if tls {
            let cert = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let made = try await runProgram("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
            guard made.status == 0 else { throw TestSetupError("openssl could not make a certificate: \(made.output)") }
            arguments += ["--cert", cert, "--key", key]
            certificate = cert
        } else {
            certificate = nil
        }
        if let user, let password { arguments += ["--user", user, "--password", password] }
        for mechanism in excludeAuth { arguments += ["--exclude-auth", mechanism] }
        if let rcptReply { arguments += ["--rcpt-reply", rcptReply] }
        process = try ChildProcess(python, arguments)
        var found: Int?
        for _ in 0..<600 {
            if let line = process.output.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }) {
                found = Int(line.dropFirst("READY ".count))
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let found else {
            process.send(SIGKILL)
            throw TestSetupError("the fake SMTP server did not start: \(process.output)")
        }
        port = found
    }

    /// The messages accepted so far, in order.
    public func messages() throws -> [Received] {
        let folder = directory.appendingPathComponent("messages")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
        return try names.sorted { (Int($0.dropLast(5)) ?? 0) < (Int($1.dropLast(5)) ?? 0) }.map {
            try JSONDecoder().decode(Received.self, from: Data(contentsOf: folder.appendingPathComponent($0)))
        }
    }

    /// Stops the server and removes its files.
    public func stop() async {
        process.send(SIGKILL)
        _ = await process.wait()
        try? FileManager.default.removeItem(at: directory)
    }
}
