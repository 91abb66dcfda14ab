import Baton
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Signing in and out, and the console's CSS and JavaScript (`/static/...`), which need no session.
struct LoginController {
    let store: Store
    let renderer: ConsoleRenderer
    let sessions: SessionCache
    /// How long a session lasts, in seconds (12 hours).
    static let sessionLifetime = 12 * 3600

    func register(public group: RouterGroup<ConsoleContext>, signedIn: RouterGroup<ConsoleContext>) {
        group.get("login", use: form)
        group.post("login", use: signIn)
        group.get("static/{file}", use: asset)
        signedIn.post("logout", use: signOut)
    }

    /// The sign-in form: one token field, and a fresh double-submit CSRF value in a cookie and a hidden field.
    @Sendable func form(_ request: Request, context: ConsoleContext) async throws -> Response {
        await loginPage(request, context: context, next: FormData(parsing: request.uri.query ?? "")["next"], message: nil, status: .ok)
    }

    private func loginPage(_ request: Request, context: ConsoleContext, next: String?, message: String?,
                           status: HTTPResponse.Status) async -> Response {
        let csrf = UUID().uuidString + UUID().uuidString
        let next = ConsoleRenderer.safeReturn(next)
        var data: [String: Any] = ["loginCSRF": csrf, "next": next]
        if let message { data["message"] = message }
        var response = await renderer.page("login", title: "Sign in", data, request: request, context: context, status: status)
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(
            CSRF.loginCookie, value: csrf, maxAge: 3600, secure: SessionCookie.isSecure(request))))
        return response
    }

    /// `POST /login token=…`: a valid, unrevoked token gets a session cookie and goes where it was headed.
    @Sendable func signIn(_ request: Request, context: ConsoleContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let form = FormData(parsing: String(decoding: body.readableBytesView, as: UTF8.self))
        guard let expected = request.cookies[CSRF.loginCookie]?.value, CSRF.matches(form[CSRF.field], expected) else {
            throw ConsoleError.forbidden("the sign-in form expired or was not sent from this console: reload it and try again")
        }
        guard let token = form["token"] else {
            return await loginPage(request, context: context, next: form["next"], message: "Paste a token (batonctl tokens create --name NAME --role viewer|operator|admin).",
                                 status: .badRequest)
        }
        guard let signed = try await store.signIn(token: token, lifetime: Self.sessionLifetime) else {
            return await loginPage(request, context: context, next: form["next"], message: "That token is unknown or revoked.", status: .unauthorized)
        }
        var response = Response.redirect(to: ConsoleRenderer.safeReturn(form["next"]), type: .normal)
        let secure = SessionCookie.isSecure(request)
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(
            SessionCookie.name, value: signed.id, maxAge: Self.sessionLifetime, secure: secure)))
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(CSRF.loginCookie, value: nil, maxAge: 0, secure: secure)))
        return response
    }

    /// `POST /logout`: the session is deleted and its cookie cleared.
    @Sendable func signOut(_ request: Request, context: ConsoleContext) async throws -> Response {
        if let id = context.sessionID {
            try await store.signOut(id: id)
            await sessions.forget(id)
        }
        var response = Response.redirect(to: "/login", type: .normal)
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(
            SessionCookie.name, value: nil, maxAge: 0, secure: SessionCookie.isSecure(request))))
        return response
    }

    /// `GET /static/console.css|console.js`: the embedded files, cacheable for an hour.
    @Sendable func asset(_ request: Request, context: ConsoleContext) async throws -> Response {
        let name = context.parameters.get("file") ?? ""
        guard let text = ConsoleAssets.files[name] else { throw ConsoleError.notFound("there is no file \(name)") }
        var headers = HTTPFields()
        headers[.contentType] = name.hasSuffix(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8"
        headers[.cacheControl] = "max-age=3600"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
