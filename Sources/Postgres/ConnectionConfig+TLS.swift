import Foundation
import Logging
import Synchronization

extension ConnectionConfig {
    /// The hosts this config reaches over the network, not on this machine: every entry of `host`
    /// (or of `hostaddr` where set, as libpq connects there) that is neither a unix socket
    /// directory nor `localhost` nor a loopback address. Names are those of `host`, for messages.
    public var remoteHosts: [String] {
        let names = host.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let addresses = hostAddress?.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        var remote: [String] = []
        for (index, name) in names.enumerated() {
            let address = index < addresses.count && !addresses[index].isEmpty ? addresses[index] : name
            if !Self.isLocal(address) { remote.append(name.isEmpty ? address : name) }
        }
        return remote
    }

    /// Nil when the server's identity is checked or the server is this machine; else one line naming
    /// the host and the sslmode: below `verify-full` a connection over the network can be read or
    /// redirected by whoever sits on the path. Never contains the password.
    public var tlsWarning: String? {
        guard sslMode != "verify-full", !remoteHosts.isEmpty else { return nil }
        let hosts = remoteHosts.joined(separator: ",")
        return "database host \(hosts) is reached with sslmode=\(sslMode), which does not verify the server's certificate "
            + "and host name: use sslmode=verify-full with sslrootcert=<CA file> (BATON_REQUIRE_VERIFIED_TLS=1 refuses such connections)"
    }

    /// Called before each connect: throws when `requireVerifiedTLS` forbids this connection, else logs
    /// `tlsWarning` once per process for each host and sslmode.
    func checkTLS(logger: Logger) throws {
        guard let warning = tlsWarning else { return }
        if requireVerifiedTLS {
            throw PostgresError(.invalidConfiguration, "refused: \(warning)")
        }
        let key = "\(remoteHosts.joined(separator: ",")) \(sslMode)"
        if TLSWarnings.shared.firstTime(key) { logger.warning("\(warning)") }
    }

    /// A unix socket directory (or abstract socket), `localhost`, 127.0.0.0/8 or ::1.
    static func isLocal(_ host: String) -> Bool {
        let host = host.lowercased()
        if host.hasPrefix("/") || host.hasPrefix("@") || host == "localhost" || host.hasSuffix(".localhost") { return true }
        if host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// The TLS warnings this process has logged, so each is logged once.
final class TLSWarnings: Sendable {
    static let shared = TLSWarnings()
    private let logged = Mutex<Set<String>>([])

    /// True the first time `key` is seen in this process.
    func firstTime(_ key: String) -> Bool {
        logged.withLock { $0.insert(key).inserted }
    }
}
