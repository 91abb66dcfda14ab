import Foundation

/// A fake CRM owner API as a real HTTP server on 127.0.0.1 (over `HTTPReceiver`): HubSpot's
/// `PATCH /crm/v3/objects/contacts/{id}` with `{"properties": {"hubspot_owner_id": …}}`, or
/// Salesforce's `PATCH /services/data/vNN.N/sobjects/{Lead|Contact}/{id}` with `{"OwnerId": …}`
/// and `Sforce-Auto-Assign: FALSE`. It checks the bearer token, keeps a contact → owner map,
/// records every request and accepted write, can answer the next N calls with a given status (429
/// with `Retry-After`, 500), and can enforce its own rate limit with 429s like the real APIs.
public final class FakeCRM: Sendable {
    public enum Kind: Sendable { case hubspot, salesforce }

    /// An accepted owner write.
    public struct Write: Sendable {
        public var contact: String
        public var owner: String
        public var at: ContinuousClock.Instant
    }

    public let kind: Kind
    public let token: String
    private let state: FakeCRMState
    private let receiver: HTTPReceiver

    /// The URL a channel file gives as `base_url` (HubSpot) or `instance_url` (Salesforce).
    public var baseURL: String { "http://127.0.0.1:\(receiver.port)" }

    /// Starts the fake. With `limit`, more than `calls` accepted calls in any `per` answer 429
    /// with `Retry-After: 1`, as the real APIs do.
    public init(_ kind: Kind, token: String, limit: (calls: Int, per: Duration)? = nil) async throws {
        let state = FakeCRMState(limit: limit)
        self.kind = kind
        self.token = token
        self.state = state
        receiver = try await HTTPReceiver { request, _ in
            state.answer(request, kind: kind, token: token)
        }
    }

    /// Every request so far, answered or refused.
    public var requests: [ReceivedRequest] { receiver.requests }
    /// Every accepted write, in the order they arrived.
    public var writes: [Write] { state.read { $0.writes } }
    /// The owner id the CRM holds for each contact.
    public var owners: [String: String] { state.read { $0.owners } }
    /// How many calls were answered 429 (by `failNext` or the rate limit).
    public var tooManyRequests: Int { state.read { $0.refused429 } }

    /// Answers the next `count` owner writes with `status` (e.g. 429 or 500), and `Retry-After` when given.
    public func failNext(_ count: Int, status: Int, retryAfter: Int? = nil) {
        state.change { $0.failures = (count, status, retryAfter) }
    }

    /// Sets an owner as a person would in the CRM's UI.
    public func setOwner(_ owner: String, of contact: String) { state.change { $0.owners[contact] = owner } }

    /// The most accepted writes in any window of `window` (to check a rate limit was kept).
    public func busiestWindow(_ window: Duration) -> Int {
        let times = writes.map(\.at).sorted()
        var best = 0, start = 0
        for (end, time) in times.enumerated() {
            while time - times[start] >= window { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    public func stop() async throws { try await receiver.stop() }
}

/// The fake's mutable state. `@unchecked Sendable`: every access holds `lock`.
final class FakeCRMState: @unchecked Sendable {
    struct Values {
        var owners: [String: String] = [:]
        var writes: [FakeCRM.Write] = []
        var failures: (count: Int, status: Int, retryAfter: Int?) = (0, 0, nil)
        var refused429 = 0
        var accepted: [ContinuousClock.Instant] = []
    }

    private let lock = NSLock()
    private var values = Values()
    private let limit: (calls: Int, per: Duration)?

    init(limit: (calls: Int, per: Duration)?) { self.limit = limit }

    func read<T>(_ body: (Values) -> T) -> T { lock.withLock { body(values) } }
    func change(_ body: (inout Values) -> Void) { lock.withLock { body(&values) } }

    func answer(_ request: ReceivedRequest, kind: FakeCRM.Kind, token: String) -> (status: Int, headers: [(String, String)]) {
        lock.withLock {
            guard request.method == "PATCH" else { return (405, []) }
            guard request.headers["authorization"] == "Bearer \(token)" else { return (401, []) }
            let parts = request.path.split(separator: "/").map(String.init)
            let contact: String?, owner: String?
            let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
            switch kind {
            case .hubspot:
                guard parts.count == 5, parts[0...3] == ["crm", "v3", "objects", "contacts"] else { return (404, []) }
                contact = parts[4].removingPercentEncoding
                owner = (object?["properties"] as? [String: Any])?["hubspot_owner_id"] as? String
            case .salesforce:
                guard parts.count == 6, parts[0...1] == ["services", "data"], parts[3] == "sobjects",
                      ["Lead", "Contact"].contains(parts[4]) else { return (404, []) }
                guard request.headers["sforce-auto-assign"] == "FALSE" else { return (400, []) }
                contact = parts[5].removingPercentEncoding
                owner = object?["OwnerId"] as? String
            }
            guard let contact, let owner else { return (400, []) }
            if values.failures.count > 0 {
                values.failures.count -= 1
                if values.failures.status == 429 { values.refused429 += 1 }
                return (values.failures.status, values.failures.retryAfter.map { [("Retry-After", "\($0)")] } ?? [])
            }
            let now = ContinuousClock.now
            if let limit {
                values.accepted.removeAll { now - $0 >= limit.per }
                if values.accepted.count >= limit.calls {
                    values.refused429 += 1
                    return (429, [("Retry-After", "1")])
                }
                values.accepted.append(now)
            }
            values.owners[contact] = owner
            values.writes.append(FakeCRM.Write(contact: contact, owner: owner, at: now))
            return (kind == .hubspot ? 200 : 204, [])
        }
    }
}
