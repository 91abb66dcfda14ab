import Crypto
import Foundation
import Postgres

/// What an API token may do. Each role includes the ones before it.
public enum TokenRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads everything.
    case viewer
    /// Also starts instances and sends signals.
    case operator_ = "operator"
    /// Also repairs (retry, cancel, resume), reassigns, and applies workflows and teams.
    case admin

    public var name: String { rawValue }
    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: TokenRole, b: TokenRole) -> Bool { a.rank < b.rank }
}

/// A token as `tokens list` shows it: never the token itself, which is not stored.
public struct TokenInfo: Sendable, Codable, Equatable {
    public var name: String
    public var role: String
    public var created_at: Date
    public var created_by: String?
    public var last_used_at: Date?
    public var revoked_at: Date?
}

/// An authenticated caller of the API.
public struct TokenIdentity: Sendable, Equatable {
    public var name: String
    public var role: TokenRole
    public init(name: String, role: TokenRole) {
        self.name = name
        self.role = role
    }
}

extension Store {
    /// Stores a new token's hash; the name's primary key refuses a second token of the same name.
    static let insertToken = """
        INSERT INTO api_tokens (name, role, hash, created_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO NOTHING RETURNING name
        """
    /// The live token with this hash; marks it used (at most once a minute, so reads stay cheap).
    static let authenticateToken = """
        WITH found AS (
            SELECT name, role, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL
        ), touched AS (
            UPDATE api_tokens t SET last_used_at = now() FROM found f
            WHERE t.name = f.name AND (f.last_used_at IS NULL OR f.last_used_at < now() - interval '1 minute')
        )
        SELECT name, role FROM found
        """
    static let listTokens = """
        SELECT name, role, created_at, created_by, last_used_at, revoked_at FROM api_tokens ORDER BY name
        """
    /// Revokes a live token; a revoked one stays revoked (its first revocation time is kept).
    static let revokeToken = """
        UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1 RETURNING name
        """

    /// The SHA-256 of a token, as stored.
    static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// Creates a token and returns it: the only time it is ever seen. Throws `BatonError.conflict`
    /// when the name is taken and `BatonError.invalid` for a bad name.
    public func createToken(name: String, role: TokenRole, createdBy: String?) async throws -> String {
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"#, options: .regularExpression) != nil else {
            throw BatonError.invalid("token names are 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit: \(name)")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let token = "baton_" + bytes.map { String(format: "%02x", $0) }.joined()
        let created = try await pool.withConnection { connection in
            try await connection.query(Self.insertToken, [name, role.name, Self.tokenHash(token), createdBy])
        }
        guard !created.isEmpty else {
            throw BatonError.conflict("a token named \(name) exists already: pick another name (or `batonctl tokens revoke \(name)` first; names stay taken)")
        }
        return token
    }

    /// The identity behind a token, or nil when it is unknown or revoked.
    public func authenticate(token: String) async throws -> TokenIdentity? {
        try await pool.withConnection { connection in
            guard let row = try await connection.query(Self.authenticateToken, [Self.tokenHash(token)]).first else { return nil }
            guard let role = TokenRole(rawValue: try row.decode("role")) else { return nil }
            return TokenIdentity(name: try row.decode("name"), role: role)
        }
    }

    /// Every token, revoked ones included.
    public func tokens() async throws -> [TokenInfo] {
        try await pool.withConnection { connection in
            try await connection.query(Self.listTokens).map { row in
                TokenInfo(name: try row.decode("name"), role: try row.decode("role"), created_at: try row.decode("created_at"),
                          created_by: try row.decode("created_by"), last_used_at: try row.decode("last_used_at"),
                          revoked_at: try row.decode("revoked_at"))
            }
        }
    }

    /// Revokes a token; throws `BatonError.notFound` when there is none of that name.
    public func revokeToken(name: String) async throws {
        let rows = try await pool.withConnection { try await $0.query(Self.revokeToken, [name]) }
        if rows.isEmpty { throw BatonError.notFound("no token named \(name): see `batonctl tokens list`") }
    }
}
