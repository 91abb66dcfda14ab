import Crypto
import Foundation
import Postgres

/// A signed-in console user: the token that signed in, its role, and the session's CSRF token.
public struct ConsoleSession: Sendable, Equatable {
    /// The token's name: recorded as the actor of every action taken in this session.
    public var tokenName: String
    public var role: TokenRole
    /// The value every form of this session must post back as `csrf`.
    public var csrf: String

    public init(tokenName: String, role: TokenRole, csrf: String) {
        self.tokenName = tokenName
        self.role = role
        self.csrf = csrf
    }
}

extension Store {
    /// A new session for a live token; inserts nothing when the token is unknown or revoked.
    static let insertConsoleSession = """
        INSERT INTO console_sessions (id_hash, token, csrf, expires_at)
        SELECT $1, name, $3, now() + $4 * interval '1 second' FROM api_tokens WHERE name = $2 AND revoked_at IS NULL
        RETURNING token
        """
    /// The session behind a cookie, only while it has not expired and its token is not revoked.
    static let selectConsoleSession = """
        SELECT s.token, t.role, s.csrf FROM console_sessions s JOIN api_tokens t ON t.name = s.token
        WHERE s.id_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL
        """
    /// Signing out: the session is gone, its cookie signs nobody in again.
    static let deleteConsoleSession = "DELETE FROM console_sessions WHERE id_hash = $1"
    /// Sessions expired for a day are removed (run at each sign-in, so the table stays small).
    static let deleteExpiredConsoleSessions = "DELETE FROM console_sessions WHERE expires_at < now() - interval '1 day'"

    /// 32 random bytes as hex.
    static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Signs a token in: returns the new session's id (the cookie's value) and the session, or nil
    /// when the token is unknown or revoked. The session lasts `lifetime` seconds.
    public func signIn(token: String, lifetime: Int) async throws -> (id: String, session: ConsoleSession)? {
        guard let identity = try await authenticate(token: token) else { return nil }
        let id = Self.randomHex(), csrf = Self.randomHex()
        let created = try await pool.withConnection { connection in
            try await connection.query(Self.deleteExpiredConsoleSessions)
            return try await connection.query(Self.insertConsoleSession, [Self.tokenHash(id), identity.name, csrf, lifetime])
        }
        guard !created.isEmpty else { return nil }
        return (id, ConsoleSession(tokenName: identity.name, role: identity.role, csrf: csrf))
    }

    /// The live session with this id; nil when it is unknown, expired, signed out or its token revoked.
    public func consoleSession(id: String) async throws -> ConsoleSession? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.selectConsoleSession, [Self.tokenHash(id)]).first,
                  let role = TokenRole(rawValue: try row.decode("role")) else { return nil }
            return ConsoleSession(tokenName: try row.decode("token"), role: role, csrf: try row.decode("csrf"))
        }
    }

    /// Ends a session (nothing happens when there is none).
    public func signOut(id: String) async throws {
        try await pool.withConnection { connection in
            try await connection.query(Self.deleteConsoleSession, [Self.tokenHash(id)])
        }
    }
}
