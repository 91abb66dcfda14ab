import Baton
import Hummingbird

/// The request context of console routes: the server's context plus the signed-in session and,
/// on a POST, the form it sent (already checked against the session's CSRF token).
public struct ConsoleContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The signed-in user (nil on the sign-in page and the static files).
    public var session: ConsoleSession?
    /// The session cookie's value, for signing out.
    var sessionID: String?
    /// A POST's form, read and CSRF-checked by the session middleware.
    var form = FormData()
    /// The body limit: forms are collected by the session middleware with its own limit.
    public var maxUploadSize: Int { 1024 * 1024 }

    public init(context: BatonRequestContext) throws {
        coreContext = context.coreContext
    }

    /// The signed-in user, or a redirect to the sign-in page (a wiring mistake if it happens).
    func user() throws -> ConsoleSession {
        guard let session else { throw ConsoleError.signInRequired }
        return session
    }

    /// The signed-in user when their role is at least `role`; a 403 page otherwise (a viewer's
    /// forged POST lands here even though the page showed no button).
    func require(_ role: TokenRole, to action: String) throws -> ConsoleSession {
        let user = try user()
        guard user.role >= role else {
            throw ConsoleError.forbidden("\(user.tokenName) is a \(user.role.name); \(action) needs \(role == .operator_ ? "an operator" : "an admin") token")
        }
        return user
    }
}

/// What a console route can refuse with, each rendered as an HTML page.
enum ConsoleError: Error {
    /// No session: GETs are redirected to the sign-in page.
    case signInRequired
    /// 403: the role may not, or the CSRF token is missing or wrong.
    case forbidden(String)
    /// 404.
    case notFound(String)
    /// 400: a bad form or query value.
    case invalid(String)
}
