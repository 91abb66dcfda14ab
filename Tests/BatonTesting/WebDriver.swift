import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small client of the W3C WebDriver protocol, enough for the console's browser tests: a
/// `chromedriver` process, one headless Chromium session, navigate, find by CSS, click, type, read
/// text, run a script, take a screenshot. Debian's `chromium` and `chromium-driver` packages
/// provide the browser and the driver (`scripts/test` installs them).
public final class WebDriver: Sendable {
    /// A found element (its WebDriver reference).
    public struct Element: Sendable {
        public let id: String
    }

    /// A WebDriver command failed: its error and message.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    let driver: ChildProcess
    let base: String
    public let session: String

    /// Starts chromedriver on a free port and a headless Chromium session at 1280×900.
    public init(port: Int, windowSize: String = "1280,900") async throws {
        guard let chromedriver = Self.find(["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]) else {
            throw TestSetupError("chromedriver is missing: install Debian's chromium and chromium-driver (scripts/test does)")
        }
        guard let chromium = Self.find(["/usr/bin/chromium", "/usr/lib/chromium/chromium"]) else {
            throw TestSetupError("chromium is missing: install Debian's chromium and chromium-driver (scripts/test does)")
        }
        driver = try ChildProcess(chromedriver, ["--port=\(port)"])
        base = "http://127.0.0.1:\(port)"
        let deadline = ContinuousClock.now + .seconds(30)
        var ready = false
        while ContinuousClock.now < deadline, !ready {
            if let status = try? await Self.call("GET", base + "/status"), (status["ready"] as? Bool) == true { ready = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard ready else {
            driver.send(SIGKILL)
            throw TestSetupError("chromedriver did not start within 30 s:\n\(driver.output)")
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": [
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=\(windowSize)",
                         "--disable-dev-shm-usage", "--lang=en-US"],
            ],
        ]]]
        do {
            let created = try await Self.call("POST", base + "/session", capabilities, timeout: .seconds(120))
            guard let id = created["sessionId"] as? String else { throw Failure(description: "no sessionId in \(created)") }
            session = id
        } catch {
            driver.send(SIGKILL)
            throw TestSetupError("chromium did not start a session: \(error)\n\(driver.output)")
        }
    }

    static func find(_ paths: [String]) -> String? { paths.first { FileManager.default.isExecutableFile(atPath: $0) } }

    /// Sends one command; returns the response's `value` (an object for most commands).
    @discardableResult
    static func call(_ method: String, _ url: String, _ body: [String: Any]? = nil, timeout: TimeAmount = .seconds(60)) async throws -> [String: Any] {
        let value = try await callValue(method, url, body, timeout: timeout)
        return value as? [String: Any] ?? [:]
    }

    static func callValue(_ method: String, _ url: String, _ body: [String: Any]? = nil, timeout: TimeAmount = .seconds(60)) async throws -> Any? {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body))))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        let value = json["value"]
        if response.status.code >= 400 {
            let detail = value as? [String: Any]
            throw Failure(description: "\(method) \(url): \(detail?["error"] ?? response.status.code): \(detail?["message"] ?? "")")
        }
        return value
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await Self.callValue(method, "\(base)/session/\(session)\(path)", body)
    }

    /// Loads `url` and waits for the page.
    public func navigate(_ url: String) async throws { _ = try await command("POST", "/url", ["url": url]) }

    /// The address the browser shows now.
    public func currentURL() async throws -> String { try await command("GET", "/url") as? String ?? "" }

    /// The first element matching a CSS selector; fails when there is none.
    public func find(_ css: String) async throws -> Element {
        let value = try await command("POST", "/element", ["using": "css selector", "value": css]) as? [String: Any]
        guard let id = value?[Self.elementKey] as? String else { throw Failure(description: "no element \(css)") }
        return Element(id: id)
    }

    /// Every element matching a CSS selector (none is fine).
    public func findAll(_ css: String) async throws -> [Element] {
        let value = try await command("POST", "/elements", ["using": "css selector", "value": css]) as? [[String: Any]] ?? []
        return value.compactMap { ($0[Self.elementKey] as? String).map(Element.init(id:)) }
    }

    /// Waits (up to `timeout`) for an element matching `css`.
    public func waitFor(_ css: String, timeout: Duration = .seconds(30)) async throws -> Element {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let element = try await findAll(css).first { return element }
            if ContinuousClock.now > deadline { throw Failure(description: "no element \(css) within \(timeout)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    public func click(_ element: Element) async throws { _ = try await command("POST", "/element/\(element.id)/click", [:]) }

    public func click(_ css: String) async throws { try await click(try find(css)) }

    /// Types `text` into an element (after what it holds).
    public func type(_ text: String, into element: Element) async throws {
        _ = try await command("POST", "/element/\(element.id)/value", ["text": text])
    }

    public func type(_ text: String, into css: String) async throws { try await type(text, into: try find(css)) }

    /// The element's rendered text.
    public func text(_ element: Element) async throws -> String {
        try await command("GET", "/element/\(element.id)/text") as? String ?? ""
    }

    /// The text of the element matching `css`. The console's live refresh may replace the element
    /// between finding and reading it ("stale element reference"): then it is found again.
    public func text(_ css: String) async throws -> String {
        for _ in 0..<4 {
            do {
                return try await text(try find(css))
            } catch let failure as Failure where failure.description.contains("stale element") {
                continue
            }
        }
        return try await text(try find(css))
    }

    /// Runs a script in the page (its `return` value comes back); async scripts call `arguments[arguments.length - 1]`.
    @discardableResult
    public func execute(_ script: String, args: [Any] = [], async: Bool = false) async throws -> Any? {
        try await command("POST", async ? "/execute/async" : "/execute/sync", ["script": script, "args": args])
    }

    /// Saves a PNG of the viewport to `path` (creating its folder).
    public func screenshot(to path: String) async throws {
        guard let base64 = try await command("GET", "/screenshot") as? String, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "no screenshot")
        }
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    /// Resizes the window (e.g. 390×844 for a phone).
    public func resize(width: Int, height: Int) async throws {
        _ = try await command("POST", "/window/rect", ["width": width, "height": height])
    }

    /// Ends the session and stops chromedriver.
    public func quit() async {
        // Deleting the session closes Chromium; chromedriver itself does not stop on SIGTERM.
        _ = try? await Self.callValue("DELETE", "\(base)/session/\(session)")
        driver.send(SIGKILL)
        _ = await driver.wait()
    }

    deinit { driver.send(SIGKILL) }
}
