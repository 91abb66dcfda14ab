import Foundation
import Postgres

/// What to do with a request that carries an `Idempotency-Key`.
public enum IdempotencyDecision: Sendable, Equatable {
    /// The key is new: run the request, then `finishIdempotent` (or `abandonIdempotent` on a fault).
    case proceed
    /// The same request ran before: answer with its response.
    case replay(status: Int, body: Data)
    /// The key was used for a different request (method, path or body).
    case mismatch
    /// The same key's first request is still running.
    case inProgress
}

extension Store {
    /// Claims (token, key) for this request: inserts a placeholder row unless one exists. Keys older
    /// than 24 hours are forgotten first. The row's primary key makes two concurrent requests with
    /// one key take turns: exactly one inserts.
    static let beginIdempotent = """
        WITH stale AS (
            DELETE FROM idempotency_keys WHERE token = $1 AND key = $2 AND created_at < now() - interval '24 hours'
        ), inserted AS (
            INSERT INTO idempotency_keys (token, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (token, key) DO NOTHING RETURNING key
        )
        SELECT (SELECT count(*) FROM inserted) AS inserted, k.method, k.path, k.request_hash, k.status, k.body
        FROM (SELECT 1) one LEFT JOIN idempotency_keys k ON k.token = $1 AND k.key = $2
        """
    /// Records the response of the request that holds (token, key).
    static let finishIdempotent = "UPDATE idempotency_keys SET status = $3, body = $4 WHERE token = $1 AND key = $2"
    /// Forgets a key whose request failed inside the server, so the client can try again.
    static let abandonIdempotent = "DELETE FROM idempotency_keys WHERE token = $1 AND key = $2 AND status IS NULL"

    /// Decides whether a request with an idempotency key runs, replays or is refused.
    public func beginIdempotent(token: String, key: String, method: String, path: String, requestHash: Data) async throws
        -> IdempotencyDecision
    {
        try await pool.withConnection { connection in
            let row = try await connection.query(Self.beginIdempotent, [token, key, method, path, requestHash])[0]
            if try row.decode(Int.self, "inserted") == 1 { return .proceed }
            // The row was there before our statement's snapshot, or was inserted concurrently and is
            // not visible to it: the latter is a request in progress.
            guard let storedHash = try row.decode(Data?.self, "request_hash") else { return .inProgress }
            let storedMethod = try row.decode(String.self, "method")
            let storedPath = try row.decode(String.self, "path")
            guard storedHash == requestHash && storedMethod == method && storedPath == path else { return .mismatch }
            guard let status = try row.decode(Int?.self, "status") else { return .inProgress }
            return .replay(status: status, body: try row.decode(Data?.self, "body") ?? Data())
        }
    }

    /// Stores the response for a key claimed with `.proceed`.
    public func finishIdempotent(token: String, key: String, status: Int, body: Data) async throws {
        try await pool.withConnection { try await $0.query(Self.finishIdempotent, [token, key, status, body]) }
    }

    /// Releases a key claimed with `.proceed` whose request failed inside the server.
    public func abandonIdempotent(token: String, key: String) async throws {
        try await pool.withConnection { try await $0.query(Self.abandonIdempotent, [token, key]) }
    }
}
