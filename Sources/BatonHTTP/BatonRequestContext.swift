import Baton
import Hummingbird

/// The request context of every route: Hummingbird's core storage plus the caller, once the token
/// middleware has authenticated one.
public struct BatonRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The token that authenticated this request (nil on routes that need none).
    public var identity: TokenIdentity?
    /// The body limit: bodies are collected by the routes with the server's configured limit.
    public var maxUploadSize: Int { .max }

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
    }

    /// The caller, or a 401 when the route was reached without one (a wiring mistake).
    func caller() throws -> TokenIdentity {
        guard let identity else { throw Problem.unauthorized("this route needs a token: send Authorization: Bearer <token>") }
        return identity
    }

    /// The caller, when its role is at least `role`; a 403 naming the role needed otherwise.
    func require(_ role: TokenRole, to action: String) throws -> TokenIdentity {
        let identity = try caller()
        guard identity.role >= role else {
            throw Problem.forbidden("token \(identity.name) is a \(identity.role.name); \(action) needs \(role == .operator_ ? "an operator" : "an admin") token")
        }
        return identity
    }
}
