import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// Debian's PgBouncer on a loopback port in front of the test server (`DATABASE_URL`), in
/// transaction pooling mode: every database of the server under its own name, `poolSize` server
/// connections per database and user. Started as the `postgres` user when the tests run as root
/// (PgBouncer refuses to run as root). No startup parameter is ignored, so a client that sends
/// `options` is refused, as by a production PgBouncer.
public final class PgBouncer: Sendable {
    /// The loopback port it listens on.
    public let port: Int
    private let process: ChildProcess
    private let directory: String
    private let serverURL: URLComponents

    /// The pgbouncer binary, or nil when it is not installed (`scripts/test` installs it).
    public static var binary: String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
        return paths.map { "\($0)/pgbouncer" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts PgBouncer and waits until it accepts connections. PgBouncers left by test processes
    /// that have exited are stopped on the way.
    public init(poolSize: Int = 8) async throws {
        Self.stopStale()
        guard let binary = Self.binary else {
            throw TestSetupError("pgbouncer is not installed (apt-get install pgbouncer; scripts/test installs it)")
        }
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], let server = URLComponents(string: url),
              let host = server.host, let serverPort = server.port, let user = server.user else {
            throw TestSetupError("the PgBouncer tests need DATABASE_URL as a postgresql://user:password@host:port/db URL")
        }
        serverURL = server
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pgbouncer-\(getpid())-\(port)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        // PgBouncer switches to `postgres` after reading its files; it writes its log here.
        chmod(directory, 0o777)
        let config = """
            [databases]
            * = host=\(host) port=\(serverPort)

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = plain
            auth_file = \(directory)/userlist.txt
            pool_mode = transaction
            default_pool_size = \(poolSize)
            min_pool_size = 0
            reserve_pool_size = 0
            max_client_conn = 400
            max_db_connections = \(poolSize)
            server_tls_sslmode = disable
            logfile = \(directory)/pgbouncer.log
            pidfile = \(directory)/pgbouncer.pid
            admin_users = \(user)

            """
        let userlist = "\"\(user)\" \"\(server.password ?? "")\"\n"
        try config.write(toFile: "\(directory)/pgbouncer.ini", atomically: true, encoding: .utf8)
        try userlist.write(toFile: "\(directory)/userlist.txt", atomically: true, encoding: .utf8)
        chmod("\(directory)/pgbouncer.ini", 0o644)
        chmod("\(directory)/userlist.txt", 0o644)
        process = try ChildProcess(binary, (asRoot ? ["-u", "postgres"] : []) + ["\(directory)/pgbouncer.ini"],
                                   unblockSignals: true)
        let deadline = ContinuousClock.now + .seconds(30)
        while !Self.accepts(port) {
            guard ContinuousClock.now < deadline else {
                let log = (try? String(contentsOfFile: "\(directory)/pgbouncer.log", encoding: .utf8)) ?? ""
                process.send(SIGKILL)
                throw TestSetupError("pgbouncer did not start on 127.0.0.1:\(port): \(process.output) \(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The URL of `database` through PgBouncer (same user and password as `DATABASE_URL`).
    public func url(database: String) -> String {
        var components = serverURL
        components.host = "127.0.0.1"
        components.port = port
        components.path = "/\(database)"
        return components.string ?? ""
    }

    /// PgBouncer's own log so far.
    public var log: String { (try? String(contentsOfFile: "\(directory)/pgbouncer.log", encoding: .utf8)) ?? "" }

    /// Stops PgBouncer (SIGTERM: at once, without waiting for clients) and removes its files.
    public func stop() async {
        process.send(SIGTERM)
        _ = await process.wait()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` with a PgBouncer, stopped when it returns or throws.
    public static func with<T>(poolSize: Int = 8, _ body: (PgBouncer) async throws -> T) async throws -> T {
        let bouncer = try await PgBouncer(poolSize: poolSize)
        do {
            let value = try await body(bouncer)
            await bouncer.stop()
            return value
        } catch {
            await bouncer.stop()
            throw error
        }
    }

    /// Kills the PgBouncers of test processes that are gone (named by their folder, as databases are).
    static func stopStale() {
        let temporary = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("baton-pgbouncer-") {
            let parts = name.split(separator: "-")
            guard parts.count == 4, let owner = Int32(parts[2]), owner != getpid(), kill(owner, 0) != 0 else { continue }
            let folder = "\(temporary)/\(name)"
            if let text = try? String(contentsOfFile: "\(folder)/pgbouncer.pid", encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// A loopback port nobody listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("cannot open a socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("cannot find a free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
