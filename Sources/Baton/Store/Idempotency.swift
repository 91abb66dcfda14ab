import Foundation
import Postgres

/// What became of a request that carries an `Idempotency-Key`.
public enum IdempotentOutcome<Value> {
    /// The key was new: the work ran and committed together with the key and its response.
    case ran(Value)
    /// The same request ran before: answer with its stored response.
    case replay(status: Int, body: Data)
    /// The key was used for a different request (method, path or body).
    case mismatch
}

extension Store {
    /// Forgets this key if it is older than 24 hours.
    static let forgetStaleIdempotencyKey = """
        DELETE FROM idempotency_keys WHERE token = $1 AND key = $2
          AND (created_at < now() - interval '24 hours' OR status IS NULL)
        """
    /// Claims (token, key) for this request. Run inside the request's own transaction: a second
    /// request with the same key waits on this uncommitted row until the first commits (then it
    /// conflicts and replays) or rolls back (then it inserts and runs).
    static let claimIdempotencyKey = """
        INSERT INTO idempotency_keys (token, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (token, key) DO NOTHING RETURNING key
        """
    /// The request a key was first used for and its response (a fresh snapshot after a conflict).
    static let selectIdempotencyKey = """
        SELECT method, path, request_hash, status, body FROM idempotency_keys WHERE token = $1 AND key = $2
        """
    /// Records the response of the request that holds (token, key), in that request's transaction.
    static let finishIdempotent = "UPDATE idempotency_keys SET status = $3, body = $4 WHERE token = $1 AND key = $2"

    /// Runs `work` once per (token, key): the key, `work`'s database effects and the response
    /// (`response(value)`) commit in one transaction, so a fault anywhere (the database restarting
    /// mid-request, the server dying before it answers) leaves either all of them or none. A repeat
    /// after a commit replays the stored response; a repeat after a fault runs the work afresh.
    /// Every use of this store's pool inside `work` joins the transaction (see
    /// `ConnectionPool.withAmbientTransaction`).
    /// Rows left with no response by servers before this scheme (they claimed the key in a
    /// transaction of its own) are taken to be abandoned.
    public nonisolated(nonsending) func idempotent<Value>(
        token: String, key: String, method: String, path: String, requestHash: Data,
        _ work: () async throws -> Value, response: (Value) -> (status: Int, body: Data)
    ) async throws -> IdempotentOutcome<Value> {
        try await pool.withAmbientTransaction { connection -> IdempotentOutcome<Value> in
            try await connection.query(Self.forgetStaleIdempotencyKey, [token, key])
            if try await connection.query(Self.claimIdempotencyKey, [token, key, method, path, requestHash]).isEmpty {
                guard let row = try await connection.query(Self.selectIdempotencyKey, [token, key]).first else {
                    // Deleted between the conflict and the read (24 hours passed): a new request.
                    throw PostgresError(.server, "idempotency key vanished; retry", sqlState: "40001")
                }
                guard try row.decode(Data.self, "request_hash") == requestHash,
                      try row.decode(String.self, "method") == method,
                      try row.decode(String.self, "path") == path else { return .mismatch }
                return .replay(status: try row.decode(Int.self, "status"), body: try row.decode(Data?.self, "body") ?? Data())
            }
            let value = try await work()
            let (status, body) = response(value)
            try await connection.query(Self.finishIdempotent, [token, key, status, body])
            return .ran(value)
        }
    }
}
