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
    /// Leaves (text, numbers, flags) are recognised first by cheap casts to concrete types: a page of
    /// a few hundred rows has thousands of them, and reflecting on each cost more than rendering.
    static func droppingNils(_ value: Any) -> Any {
        switch value {
        case is String, is Int, is Bool, is Double:
            return value
        case let dictionary as [String: Any]:
            var result: [String: Any] = [:]
            result.reserveCapacity(dictionary.count)
            for (key, element) in dictionary where !isNil(element) { result[key] = droppingNils(element) }
            return result
        case let rows as [[String: Any]]:
            return rows.map { droppingNils($0) }
        case let array as [Any]:
            return array.filter { !isNil($0) }.map(droppingNils)
        default:
            return value
        }
    }

    /// True for an optional without a value, however it is wrapped in `Any`.
    static func isNil(_ value: Any) -> Bool {
        if value is String || value is Int || value is Bool { return false }
        return (value as? any OptionalValue)?.isNone ?? false
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

/// Lets `ConsoleRenderer.isNil` ask an `Any` whether it holds an empty optional without reflection.
private protocol OptionalValue { var isNone: Bool { get } }

extension Optional: OptionalValue {
    var isNone: Bool { self == nil }
}
