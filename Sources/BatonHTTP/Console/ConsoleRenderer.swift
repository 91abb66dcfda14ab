import Baton
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders console pages: a page template's HTML inside the layout (navigation, who is signed in,
/// the sign-out form, notices), with headers that keep the page out of caches and frames and let
/// it load only its own CSS and JavaScript.
struct ConsoleRenderer: Sendable {
    let library: MustacheLibrary
    /// Where the page's change stamp comes from (`<meta name="baton-stamp">`): the script compares
    /// `/live` with it, so a change made right after the page was rendered is never missed.
    let cache: ConsoleCache?

    /// The templates embedded by scripts/gen-console; a template that does not parse is a build
    /// mistake that a test catches (`ConsoleTemplatesTests`).
    init(cache: ConsoleCache? = nil) {
        self.cache = cache
        var library = MustacheLibrary()
        for (name, text) in ConsoleAssets.templates {
            if let template = try? MustacheTemplate(string: text) { library.register(template, named: name) }
        }
        self.library = library
    }

    /// The navigation, in order: path, label.
    static let navigation: [(path: String, label: String)] = [
        ("/", "Overview"), ("/instances", "Instances"), ("/stuck", "Stuck"), ("/contacts", "Contacts"),
        ("/teams", "Teams"), ("/workflows", "Workflows"), ("/outbox", "Outbox"),
    ]

    /// A page: `template` rendered with `data`, inside the layout.
    func page(_ template: String, title: String, _ data: [String: Any], request: Request, context: ConsoleContext,
              status: HTTPResponse.Status = .ok) async -> Response {
        var data = data
        let session = context.session
        data["csrf"] = session?.csrf ?? ""
        data["canAct"] = (session?.role ?? .viewer) >= .admin
        data["canSignal"] = (session?.role ?? .viewer) >= .operator_
        let body = library.render(Self.droppingNils(data), withTemplate: template) ?? "<p>template \(template) is missing</p>"
        let path = request.uri.path
        let q = FormData(parsing: request.uri.query ?? "")
        var layout: [String: Any] = [
            "title": title, "body": body, "signedIn": session != nil,
            "user": session?.tokenName ?? "", "role": session?.role.name ?? "", "csrf": session?.csrf ?? "",
            "nav": Self.navigation.map { item -> [String: Any] in
                let current = item.path == "/" ? path == "/" : (path == item.path || path.hasPrefix(item.path + "/"))
                return ["path": item.path, "label": item.label, "current": current]
            },
        ]
        if session != nil, let cache, let stamp = try? await cache.changeStamp() { layout["stamp"] = stamp }
        if let notice = q["notice"] { layout["notice"] = notice }
        if let error = q["error"] { layout["error"] = error }
        let html = library.render(layout, withTemplate: "layout") ?? body
        return Self.html(html, status: status)
    }

    /// The page data without empty optionals (`x as Any` of a nil), so a template's `{{#x}}` section
    /// is skipped for them instead of printing "nil".
    static func droppingNils(_ value: Any) -> Any {
        if let dictionary = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, element) in dictionary where !isNil(element) { result[key] = droppingNils(element) }
            return result
        }
        if let array = value as? [Any] { return array.filter { !isNil($0) }.map(droppingNils) }
        return value
    }

    static func isNil(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }

    /// An HTML response with the console's security headers.
    static func html(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A 303 back to `path` with a one-line notice (or error) shown on arrival.
    static func redirect(_ path: String, notice: String? = nil, error: String? = nil) -> Response {
        let target = safeReturn(path)
        let extra = FormData.query([("notice", notice), ("error", error)])
        let separator = target.contains("?") ? "&" : "?"
        return .redirect(to: extra.isEmpty ? target : target + separator + extra, type: .normal)
    }

    /// A local path to return to after an action: anything else (another host, `//x`) becomes `/`.
    static func safeReturn(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"),
              !path.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return "/" }
        // Drop an earlier notice so notices do not pile up in the URL.
        guard var components = URLComponents(string: path) else { return "/" }
        components.queryItems = components.queryItems?.filter { $0.name != "notice" && $0.name != "error" }
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return components.string ?? "/"
    }
}
