import Baton
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Console sign-in state. A session is a row in `console_sessions` keyed by the SHA-256 of a
/// random 32-byte id; the id travels only in the `baton_session` cookie (HttpOnly,
/// SameSite=Strict, Path=/, Secure when the request came over TLS). Signing out deletes the row;
/// revoking the token ends its sessions within `SessionCache`'s 2 seconds.
enum SessionCookie {
    static let name = "baton_session"

    /// Whether the request reached us over TLS (directly or through a proxy that says so).
    static func isSecure(_ request: Request) -> Bool {
        request.uri.scheme?.rawValue == "https" || request.headers[values: HTTPField.Name("X-Forwarded-Proto")!].first == "https"
    }

    /// The `Set-Cookie` value for a session id (or, with nil, one that clears the cookie).
    static func header(_ name: String, value: String?, maxAge: Int, secure: Bool) -> String {
        var parts = ["\(name)=\(value ?? "")", "Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=\(value == nil ? 0 : maxAge)"]
        if secure { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }
}

/// Recently looked-up sessions, for a short time, so a page's requests do not each cost a query.
actor SessionCache {
    private var entries: [String: (ConsoleSession, ContinuousClock.Instant)] = [:]
    private let ttl: Duration

    init(ttl: Duration = .seconds(2)) { self.ttl = ttl }

    func lookup(_ id: String) -> ConsoleSession? {
        guard let (session, at) = entries[id] else { return nil }
        if ContinuousClock.now - at > ttl {
            entries[id] = nil
            return nil
        }
        return session
    }

    func remember(_ id: String, _ session: ConsoleSession) {
        if entries.count > 10_000 { entries.removeAll() }
        entries[id] = (session, ContinuousClock.now)
    }

    func forget(_ id: String) { entries[id] = nil }
}

/// Requires a signed-in session on every console page and action. A GET without one is sent to
/// the sign-in page (and back afterwards); a POST without one is refused. A POST's form is read
/// here and its CSRF token checked against the session's before any handler runs.
struct ConsoleSessionMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let store: Store
    let cache: SessionCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        guard let id = request.cookies[SessionCookie.name]?.value, !id.isEmpty, let session = try await session(id) else {
            if request.method == .get || request.method == .head {
                let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return .redirect(to: "/login?" + FormData.query([("next", target)]), type: .normal)
            }
            throw ConsoleError.forbidden("you are not signed in (or your session ended): sign in again")
        }
        context.session = session
        context.sessionID = id
        context.logger[metadataKey: "token"] = .string(session.tokenName)
        if request.method == .post {
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            context.form = FormData(parsing: String(decoding: body.readableBytesView, as: UTF8.self))
            guard CSRF.matches(context.form[CSRF.field], session.csrf) else {
                throw ConsoleError.forbidden("the form's CSRF token is missing or wrong: reload the page and try again")
            }
        }
        return try await next(request, context)
    }

    private func session(_ id: String) async throws -> ConsoleSession? {
        if let cached = await cache.lookup(id) { return cached }
        guard let found = try await store.consoleSession(id: id) else { return nil }
        await cache.remember(id, found)
        return found
    }
}
