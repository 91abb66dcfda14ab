import AsyncHTTPClient
import BatonCore
import Foundation
import NIOCore
import NIOHTTP1

/// Owner write-back to CRMs (HubSpot, Salesforce) and `owner.changed` events for webhook channels.
extension OutboxRelay {
    /// The Salesforce REST API version Baton speaks.
    public static let salesforceAPIVersion = "v60.0"

    /// How far ahead a delivery may reserve a slot of its channel's rate limit (and then wait for
    /// it); a delivery that would have to wait longer goes back to the outbox until then.
    static let rateHorizon: Duration = .seconds(2)

    /// Sends the contact's owner as it is now (not as it was when the change was queued), so
    /// retries and reordering converge on the newest owner. No call when the CRM already holds it.
    func writeOwner(_ message: OutboxMessage, via channel: BatonCore.Channel) async -> Store.DeliveryOutcome {
        let (outcome, skipped) = await sendOwner(message, via: channel)
        let crm = channel.type.rawValue
        switch outcome {
        case .delivered: BatonMetrics.writeBack(crm: crm, outcome: skipped ?? "ok")
        case .retry: BatonMetrics.writeBack(crm: crm, outcome: "retried")
        case .dead: BatonMetrics.writeBack(crm: crm, outcome: "dead")
        case .deferred: break  // counted as a rate-limit wait
        }
        return outcome
    }

    /// `writeOwner`'s delivery, and why no call was made when none was needed (the outcome of
    /// `baton_crm_writebacks_total`).
    private func sendOwner(_ message: OutboxMessage, via channel: BatonCore.Channel) async
        -> (Store.DeliveryOutcome, skipped: String?) {
        guard channel.type.isCRM else {
            return (.dead("channel \(channel.name) is a \(channel.type.rawValue) channel; owners are written back only to hubspot and salesforce channels"), nil)
        }
        guard let contact = message.contact else { return (.dead("a write-back names no contact"), nil) }
        let crm = channel.type == .hubspot ? "HubSpot" : "Salesforce"
        guard let tokenName = channel.tokenEnv, let token = environment[tokenName], !token.isEmpty else {
            return (retryOrDead(message, maxAttempts: channel.maxAttempts,
                                error: "the token variable \(channel.tokenEnv ?? "token_env") is not set for channel \(channel.name)",
                                retryAfter: nil), nil)
        }
        let current: OwnerToWrite
        do {
            current = try await store.ownerToWrite(contact: contact, channel: channel.name, type: channel.type)
        } catch {
            return (retryOrDead(message, maxAttempts: channel.maxAttempts, error: "reading the owner: \(error)", retryAfter: nil), nil)
        }
        guard current.known else { return (.dead("there is no contact \(contact)"), nil) }
        let value: String
        if let owner = current.owner {
            guard let id = current.crmID, !id.isEmpty else {
                let what = channel.type == .hubspot ? "<owner id>" : "<user id>"
                return (.dead("member \(owner) has no \(crm) id: add crm: { \(channel.type.rawValue): \"\(what)\" } to \(owner) "
                              + "in the team file, apply it (batonctl teams apply FILE), then batonctl outbox retry \(message.id)"), nil)
            }
            value = id
        } else if channel.type == .hubspot {
            value = ""  // unowned (queued in a team): clear the owner in HubSpot
        } else {
            // Salesforce requires an owner: an unowned contact keeps the one it has there.
            return (.delivered, "skipped_unchanged")
        }
        if current.crmHolds == value {
            return (.delivered, current.crmHoldsOrigin == "crm" ? "skipped_human_change" : "skipped_unchanged")
        }
        if let rate = channel.rate {
            do {
                let take = try await store.takeRateCall(channel: channel.name, rate: rate, horizon: Self.rateHorizon)
                guard take.granted else {
                    BatonMetrics.rateLimitWait(crm: channel.type.rawValue, reason: "limit")
                    return (.deferred(after: take.wait + Self.jitter(take.wait),
                                      note: "waiting for channel \(channel.name)'s rate limit (\(rate.calls)/\(rate.period))"), nil)
                }
                if take.wait > .zero {
                    BatonMetrics.rateLimitWait(crm: channel.type.rawValue, reason: "limit")
                    try await Task.sleep(for: take.wait)
                    // A 429 meanwhile: every relay holds off, including those holding slots.
                    let blocked = try await store.channelBlockedFor(channel.name)
                    if blocked > .zero {
                        BatonMetrics.rateLimitWait(crm: channel.type.rawValue, reason: "http_429")
                        return (.deferred(after: blocked + Self.jitter(blocked), note: "channel \(channel.name) is held off by a 429"), nil)
                    }
                }
            } catch {
                return (retryOrDead(message, maxAttempts: channel.maxAttempts, error: "taking a call of the rate limit: \(error)", retryAfter: nil), nil)
            }
        }
        let request: HTTPClientRequest
        switch Self.ownerRequest(channel: channel, contact: contact, crmOwner: value, token: token) {
        case .success(let built): request = built
        case .failure(let error): return (.dead(error.description), nil)
        }
        if let refusal = OutboundAllowList.refusal(for: request.url, channel: channel.name, environment: environment) {
            return (.dead(refusal), nil)
        }
        try? await store.recordOwnerSending(channel: channel.name, contact: contact, crmOwner: value, outbox: Int(message.id) ?? 0)
        let host = Self.host(request.url)
        do {
            let seconds = min(max(1, channel.timeout.seconds), BatonCore.Channel.maxTimeoutSeconds)
            let called = ContinuousClock.now
            let response = try await http.execute(request, timeout: .seconds(Int64(seconds)))
            let answer = (try? await response.body.collect(upTo: 16 * 1024)).map { String(buffer: $0) } ?? ""
            BatonMetrics.writeBackDuration(crm: channel.type.rawValue, ContinuousClock.now - called)
            let code = Int(response.status.code)
            if (200..<300).contains(code) {
                do {
                    try await store.recordOwnerWritten(channel: channel.name, contact: contact, crmOwner: value)
                } catch {
                    logger.warning("could not record a written owner", metadata: ["outbox": "\(message.id)", "error": "\(error)"])
                }
                return (.delivered, nil)
            }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { RetryAfter.delay($0, now: Date()) }
            if code == 429 {
                // The CRM's own limit: every relay holds off for Retry-After, and this attempt does not count.
                let pause = min(retryAfter ?? .seconds(10), RetryAfter.limit)
                try? await store.blockChannel(channel.name, for: pause)
                BatonMetrics.rateLimitWait(crm: channel.type.rawValue, reason: "http_429")
                return (.deferred(after: pause + Self.jitter(pause), note: "HTTP 429 from \(host): rate limited, retrying after \(pause)"), nil)
            }
            if code == 408 || code >= 500 {
                return (retryOrDead(message, maxAttempts: channel.maxAttempts, error: "HTTP \(code) from \(host)", retryAfter: retryAfter), nil)
            }
            let detail = answer.isEmpty ? "" : ": " + answer.prefix(200).replacingOccurrences(of: "\n", with: " ")
            switch code {
            case 401, 403:
                return (.dead("HTTP \(code) from \(host): the token in \(tokenName) was refused (it needs the scope to write "
                              + (channel.type == .hubspot ? "contacts, crm.objects.contacts.write)" : "\(channel.object ?? "records"))")), nil)
            case 404:
                return (.dead("HTTP 404 from \(host): \(crm) has no \(channel.object ?? "contact") \(contact)"), nil)
            default:
                return (.dead("HTTP \(code) from \(host)\(detail) (not retried: a 4xx means the request itself is refused)"), nil)
            }
        } catch {
            return (retryOrDead(message, maxAttempts: channel.maxAttempts,
                                error: "\(host): \(String(describing: error).prefix(200))", retryAfter: nil), nil)
        }
    }

    struct RequestError: Error, CustomStringConvertible {
        let description: String
    }

    /// The PATCH that sets a contact's owner: HubSpot's contacts API, or Salesforce's sObject API
    /// with `Sforce-Auto-Assign: FALSE` (so its assignment rules do not overwrite the owner).
    static func ownerRequest(channel: BatonCore.Channel, contact: String, crmOwner: String, token: String)
        -> Result<HTTPClientRequest, RequestError> {
        guard let id = contact.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))),
              !id.isEmpty else { return .failure(RequestError(description: "contact id \(contact) cannot be a CRM record id")) }
        let url: String
        let body: [UInt8]
        var request: HTTPClientRequest
        switch channel.type {
        case .hubspot:
            url = "\(channel.baseURL ?? DefinitionLoader.hubSpotBaseURL)/crm/v3/objects/contacts/\(id)"
            body = json(["properties": ["hubspot_owner_id": crmOwner]])
            request = HTTPClientRequest(url: url)
        case .salesforce:
            guard let instance = channel.instanceURL, let object = channel.object else {
                return .failure(RequestError(description: "channel \(channel.name) needs instance_url and object"))
            }
            url = "\(instance)/services/data/\(salesforceAPIVersion)/sobjects/\(object)/\(id)"
            body = json(["OwnerId": crmOwner])
            request = HTTPClientRequest(url: url)
            request.headers.add(name: "Sforce-Auto-Assign", value: "FALSE")
        default:
            return .failure(RequestError(description: "channel \(channel.name) is not a CRM channel"))
        }
        request.method = .PATCH
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "baton-outbox")
        request.body = .bytes(ByteBuffer(bytes: body))
        return .success(request)
    }

    private static func json(_ object: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(object)) ?? Data())
    }

    /// Up to a fifth more, so deliveries deferred together do not all come back at once.
    static func jitter(_ wait: Duration) -> Duration {
        .milliseconds(Int.random(in: 0...max(1, wait.wholeMilliseconds / 5)))
    }

    /// The `owner.changed` event a webhook channel asked for with `events: [owner.changed]`.
    struct OwnerChangedBody: Codable {
        var id: String
        var event = "owner.changed"
        var contact: String?
        var from: String?
        var to: String?
        var team: String?
        var reason: String
        /// Who changed it: the person (`manual:<actor>` in the history), else `workflow` or `baton`.
        var actor: String
        var instance: String?
        var at: String

        /// Every field, `null` when empty (synthesised coding would leave a nil out).
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(event, forKey: .event)
            try c.encode(contact, forKey: .contact)
            try c.encode(from, forKey: .from)
            try c.encode(to, forKey: .to)
            try c.encode(team, forKey: .team)
            try c.encode(reason, forKey: .reason)
            try c.encode(actor, forKey: .actor)
            try c.encode(instance, forKey: .instance)
            try c.encode(at, forKey: .at)
        }
    }

    /// The change as the outbox row carries it (`message`: from, to, team, reason, at as JSON).
    struct StoredChange: Decodable {
        var from: String?
        var to: String?
        var team: String?
        var reason: String
        var at: String
    }

    static func ownerChangedBody(_ message: OutboxMessage) -> [UInt8] {
        let change = (try? JSONDecoder().decode(StoredChange.self, from: Data(message.message.utf8)))
            ?? StoredChange(reason: "", at: RFC3339.string(message.created_at))
        var actor = message.instance == nil ? "baton" : "workflow", reason = change.reason
        if reason.hasPrefix("manual:") {
            let parts = reason.dropFirst("manual:".count).split(separator: " ", maxSplits: 1)
            actor = parts.first.map(String.init) ?? "admin"
            reason = parts.count > 1 ? String(parts[1]) : ""
        }
        return json(OwnerChangedBody(id: message.key, contact: message.contact, from: change.from, to: change.to, team: change.team,
                                     reason: reason, actor: actor, instance: message.instance, at: change.at))
    }
}
