import Baton
import Foundation
import Hummingbird

/// Authenticates `Authorization: Bearer <token>` against the stored token hashes. A short cache
/// keeps a busy client from costing a query per request; a revoked token stops working within
/// `cacheFor` (2 seconds).
struct TokenAuthenticator: RouterMiddleware {
    typealias Context = BatonRequestContext
    let store: Store
    let cache: TokenCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("no token: send Authorization: Bearer <token> (create one with `batonctl tokens create`)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw Problem.unauthorized("the Authorization header must be Bearer <token>")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        let identity: TokenIdentity?
        if let cached = await cache.lookup(token) {
            identity = cached
        } else {
            identity = try await store.authenticate(token: token)
            if let identity { await cache.remember(token, identity) }
        }
        guard let identity else { throw Problem.unauthorized("the token is unknown or revoked") }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "token"] = .string(identity.name)
        return try await next(request, context)
    }
}

/// Recently authenticated tokens, for a short time.
actor TokenCache {
    private var entries: [String: (TokenIdentity, ContinuousClock.Instant)] = [:]
    private let ttl: Duration

    init(ttl: Duration = .seconds(2)) { self.ttl = ttl }

    func lookup(_ token: String) -> TokenIdentity? {
        guard let (identity, at) = entries[token] else { return nil }
        if ContinuousClock.now - at > ttl {
            entries[token] = nil
            return nil
        }
        return identity
    }

    func remember(_ token: String, _ identity: TokenIdentity) {
        if entries.count > 10_000 { entries.removeAll() }
        entries[token] = (identity, ContinuousClock.now)
    }
}
