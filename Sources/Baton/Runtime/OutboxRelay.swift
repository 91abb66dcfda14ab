import AsyncHTTPClient
import BatonCore
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Postgres

/// How the relay runs.
public struct OutboxRelayConfiguration: Sendable {
    public var id: String
    /// Deliveries claimed per round.
    public var batchSize: Int
    /// How long a claimed delivery is held before another relay may send it again. A claim holds
    /// rows longer when a channel's timeout needs it (see `OutboxRelay.claimLease`).
    public var lease: Duration
    /// First retry delay; doubles per attempt, with jitter, up to `maxBackoff`.
    public var baseBackoff: Duration
    public var maxBackoff: Duration
    public var pollInterval: Duration
    /// Exit once nothing is due.
    public var untilIdle: Bool
    /// With `untilIdle`: deliveries that come due within this long (retries in backoff) are waited
    /// for; any due later are left pending and reported.
    public var drainLimit: Duration
    /// With `untilIdle`: give up (throw) when the database has failed every round for this long.
    public var giveUpAfter: Duration
    /// How long the channels read from the database are reused before they are read again;
    /// `reloadChannels()` (SIGHUP) reads them at the next round whatever this says.
    public var channelsRefresh: Duration
    /// Where the relay LISTENs for `baton_outbox` (a step wrote notifications): a direct connection
    /// (nil: the pool's own server, which must then not be a transaction pooler; without a direct
    /// connection the relay only polls).
    public var listen: ConnectionConfig?

    public init(id: String, batchSize: Int = 50, lease: Duration = .seconds(30), baseBackoff: Duration = .seconds(1),
                maxBackoff: Duration = .seconds(600), pollInterval: Duration = .seconds(1), untilIdle: Bool = false,
                drainLimit: Duration = .zero, giveUpAfter: Duration = .seconds(30), channelsRefresh: Duration = .seconds(5),
                listen: ConnectionConfig? = nil) {
        self.id = id
        self.batchSize = batchSize
        self.lease = lease
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.pollInterval = pollInterval
        self.untilIdle = untilIdle
        self.drainLimit = drainLimit
        self.giveUpAfter = giveUpAfter
        self.channelsRefresh = channelsRefresh
        self.listen = listen
    }
}

/// The relay stopped because the database stayed unreachable (only with `untilIdle`).
public struct OutboxRelayGaveUp: Error, CustomStringConvertible {
    public let description: String
}

/// Delivers outbox rows at least once, each with its idempotency key: log lines, signed webhook
/// POSTs, Slack incoming-webhook messages. Retries with exponential backoff and jitter, honours
/// Retry-After, and ends in `dead` (visible in `batonctl stuck` and `outbox list`).
public final class OutboxRelay: Sendable {
    public let configuration: OutboxRelayConfiguration
    let store: Store
    let logger: Logger
    let http: HTTPClient
    let environment: [String: String]
    private let state = RelayState()
    private let wake = WakeSignal()

    public init(store: Store, configuration: OutboxRelayConfiguration, logger: Logger = Logger(label: "baton.outbox"),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.store = store
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "relay"] = "\(configuration.id)"
        self.logger = logger
        self.environment = environment
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    /// Stops claiming; deliveries in flight finish. Idempotent.
    public func stop() async {
        await state.requestStop()
        await wake.signal()
    }

    public var delivered: Int { get async { await state.delivered } }

    /// Reads the channels from the database again now (SIGHUP); the next round uses them. Deliveries
    /// in flight finish with the channel they started with: a round reads its channels once, at its
    /// start. Returns the names of the channels read.
    /// - Throws: when the database cannot be read; the next round then reads the channels itself.
    @discardableResult
    public func reloadChannels() async throws -> [String] {
        await state.forgetChannels()
        let channels = try await state.channels(from: store, refresh: configuration.channelsRefresh)
        await wake.signal()
        return Array(channels.keys)
    }

    /// Runs until `stop()` or, with `untilIdle`, until nothing is due: deliveries that come due
    /// within `drainLimit` (retries in backoff) are waited for, later ones are left and reported.
    /// - Throws: `OutboxRelayGaveUp` when, with `untilIdle`, the database fails for `giveUpAfter`.
    public func run() async throws {
        logger.info("outbox relay started")
        do {
            try await relayLoop()
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        let delivered = await state.delivered
        logger.info("outbox relay stopped", metadata: ["delivered": "\(delivered)"])
    }

    private func relayLoop() async throws {
        // Woken by NOTIFY baton_outbox (a step's commit wrote notifications); polling stays as the
        // fallback for retries coming due and for a listener that is down. --until-idle drains
        // what is there and needs no wake-ups.
        let listenConfig = configuration.listen ?? store.pool.config
        let listener = configuration.untilIdle || listenConfig.pooling != .direct ? nil : Task {
            await WakeListener(config: listenConfig, channels: ["baton_outbox"], logger: logger).run(waking: wake)
        }
        defer { listener?.cancel() }
        let started = ContinuousClock.now
        var failingSince: ContinuousClock.Instant?
        var failures = 0
        while await !state.stopping {
            do {
                let channels = try await state.channels(from: store, refresh: configuration.channelsRefresh)
                let lease = Self.claimLease(configuration.lease, channels: channels)
                let claimed = try await store.claimOutbox(limit: configuration.batchSize, lease: lease)
                failingSince = nil
                failures = 0
                if claimed.isEmpty {
                    if configuration.untilIdle {
                        guard let wait = try await drainWait(since: started) else { break }
                        await wake.wait(timeout: wait)
                    } else {
                        await wake.wait(timeout: configuration.pollInterval)
                    }
                    continue
                }
                await withTaskGroup(of: Void.self) { group in
                    for message in claimed {
                        group.addTask { await self.deliverAndRecord(message, channels: channels) }
                    }
                }
            } catch {
                let since = failingSince ?? .now
                failingSince = since
                failures += 1
                if configuration.untilIdle, ContinuousClock.now - since >= configuration.giveUpAfter {
                    throw OutboxRelayGaveUp(description: "the outbox relay gave up after \(configuration.giveUpAfter) "
                                            + "without reaching the database: \(error)")
                }
                let delay = Self.roundBackoff.delay(attempt: failures)
                logger.warning("outbox round failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                await wake.wait(timeout: delay)
            }
        }
    }

    /// With `untilIdle` and nothing due: how long to wait for the next delivery that comes due
    /// within `drainLimit` of the start, or nil to stop (reporting what is left).
    private func drainWait(since started: ContinuousClock.Instant) async throws -> Duration? {
        let backlog = try await store.outboxBacklog()
        guard backlog.waiting > 0, let dueIn = backlog.dueIn else { return nil }
        let remaining = configuration.drainLimit - (ContinuousClock.now - started)
        if dueIn > remaining {
            logger.warning("deliveries left for a later run", metadata: [
                "pending": "\(backlog.waiting)", "next_due_in": "\(dueIn)",
                "hint": "a running baton-worker, or the next --until-idle run, delivers them",
            ])
            return nil
        }
        return min(max(dueIn, .milliseconds(10)), configuration.pollInterval)
    }

    /// The lease of a claim: the configured one, but always longer than the slowest channel's
    /// timeout plus time to record the outcome, so no other relay sends a row while it is in flight.
    static func claimLease(_ configured: Duration, channels: [String: BatonCore.Channel]) -> Duration {
        let timeouts = channels.values.filter { $0.type != .log }.map { min($0.timeout.seconds, BatonCore.Channel.maxTimeoutSeconds) }
        guard let slowest = timeouts.max() else { return configured }
        // A rate-limited channel's delivery may first wait for its reserved slot.
        let rateWait: Duration = channels.values.contains { $0.rate != nil } ? rateHorizon : .zero
        return max(configured, .seconds(slowest) + rateWait + leaseMargin)
    }

    /// What a claim's lease adds to the slowest channel's timeout: claiming, recording, clock steps.
    static let leaseMargin: Duration = .seconds(5)

    /// Backoff after a failed round: from 100 ms, doubling up to 5 s, with jitter.
    private static let roundBackoff = Backoff(base: .milliseconds(100), cap: .seconds(5))

    private func deliverAndRecord(_ message: OutboxMessage, channels: [String: BatonCore.Channel]) async {
        let channel = channels[message.channel]
            ?? (message.channel == "log" ? BatonCore.Channel(name: "log", type: .log, maxAttempts: 1) : nil)
        let outcome: Store.DeliveryOutcome
        let started = ContinuousClock.now
        if let channel {
            outcome = await deliver(message, via: channel)
        } else {
            outcome = retryOrDead(message, maxAttempts: 8, error: "unknown channel \(message.channel)", retryAfter: nil)
        }
        switch outcome {
        case .delivered, .retry, .dead: BatonMetrics.deliveryDuration(channel: message.channel, ContinuousClock.now - started)
        case .deferred: break  // not an attempt: held back by a rate limit
        }
        switch outcome {
        case .delivered:
            BatonMetrics.delivery(channel: message.channel, outcome: "delivered")
            await state.countDelivered()
        case .dead(let error):
            BatonMetrics.delivery(channel: message.channel, outcome: "dead")
            logger.error("delivery dead", metadata: ["outbox": "\(message.id)", "channel": "\(message.channel)", "error": "\(error)"])
        case .deferred(let after, let note):
            logger.debug("delivery deferred", metadata: ["outbox": "\(message.id)", "channel": "\(message.channel)",
                                                         "retry_in": "\(after)", "reason": "\(note)"])
        case .retry(let after, let error):
            BatonMetrics.delivery(channel: message.channel, outcome: "retry")
            logger.notice("delivery failed; will retry", metadata: [
                "outbox": "\(message.id)", "channel": "\(message.channel)", "attempt": "\(message.attempts)",
                "retry_in": "\(after)", "error": "\(error)",
            ])
        }
        guard let id = Int(message.id) else { return }
        do {
            try await store.finishDelivery(id: id, attempt: message.attempts, outcome)
        } catch {
            // The row stays claimed until its lease ends, then it is delivered again with the same key.
            logger.warning("could not record a delivery; it will be sent again", metadata: ["outbox": "\(message.id)", "error": "\(error)"])
        }
    }

    func deliver(_ message: OutboxMessage, via channel: BatonCore.Channel) async -> Store.DeliveryOutcome {
        if message.kind == "owner_sync" { return await writeOwner(message, via: channel) }
        switch channel.type {
        case .hubspot, .salesforce:
            return .dead("channel \(channel.name) is a \(channel.type.rawValue) channel: it writes owners back "
                         + "(sync_owner: true) and delivers no messages; name a webhook, slack or log channel in the notify step")
        case .log:
            logger.info("notification", metadata: [
                "to": "\(message.recipient ?? "-")", "workflow": "\(message.workflow ?? "-")", "step": "\(message.step ?? "-")",
                "contact": "\(message.contact ?? "-")", "key": "\(message.key)", "message": "\(message.message)",
            ])
            return .delivered
        case .email: return await deliverEmail(message, via: channel)
        case .webhook, .slack:
            guard let url = channel.url ?? channel.urlEnv.flatMap({ environment[$0] }), !url.isEmpty else {
                return retryOrDead(message, maxAttempts: channel.maxAttempts,
                                   error: "no URL: set \(channel.urlEnv ?? "url") for channel \(channel.name)", retryAfter: nil)
            }
            if let refusal = OutboundAllowList.refusal(for: url, channel: channel.name, environment: environment) { return .dead(refusal) }
            var secret: String?
            if let name = channel.secretEnv {
                guard let value = environment[name], !value.isEmpty else {
                    return retryOrDead(message, maxAttempts: channel.maxAttempts,
                                       error: "the secret variable \(name) is not set for channel \(channel.name)", retryAfter: nil)
                }
                secret = value
            }
            let body = channel.type == .slack ? Self.slackBody(message)
                : message.kind == "owner_changed" ? Self.ownerChangedBody(message) : Self.webhookBody(message)
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Idempotency-Key", value: message.key)
            request.headers.add(name: "User-Agent", value: "baton-outbox")
            if let secret {
                request.headers.add(name: "Baton-Signature", value: Self.signature(body: body, secret: secret, at: Date()))
            }
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let seconds = min(max(1, channel.timeout.seconds), BatonCore.Channel.maxTimeoutSeconds)
                let response = try await http.execute(request, timeout: .seconds(Int64(seconds)))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                let code = response.status.code
                if (200..<300).contains(code) { return .delivered }
                let error = "HTTP \(code) from \(Self.host(url))"
                if code == 408 || code == 429 || code >= 500 {
                    let retryAfter = response.headers.first(name: "Retry-After").flatMap { RetryAfter.delay($0, now: Date()) }
                    return retryOrDead(message, maxAttempts: channel.maxAttempts, error: error, retryAfter: retryAfter)
                }
                return .dead(error + " (not retried: a 4xx means the request itself is refused)")
            } catch {
                return retryOrDead(message, maxAttempts: channel.maxAttempts,
                                   error: "\(Self.host(url)): \(String(describing: error).prefix(200))", retryAfter: nil)
            }
        }
    }

    func retryOrDead(_ message: OutboxMessage, maxAttempts: Int, error: String, retryAfter: Duration?) -> Store.DeliveryOutcome {
        if message.attempts >= maxAttempts { return .dead("\(error) (after \(message.attempts) attempts)") }
        let backoff = Backoff(base: configuration.baseBackoff, cap: configuration.maxBackoff)
        let delay = backoff.delay(attempt: message.attempts)
        return .retry(after: max(delay, min(retryAfter ?? .zero, RetryAfter.limit)), error: error)
    }

    /// Only scheme and host: URLs may carry tokens (Slack's do), which never go into logs or errors.
    static func host(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return "the endpoint" }
        return "\(components.scheme ?? "http")://\(host)\(components.port.map { ":\($0)" } ?? "")"
    }

    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    public static func signature(body: [UInt8], secret: String, at date: Date) -> String {
        let t = Int(date.timeIntervalSince1970)
        let signed = Array("\(t).".utf8) + body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(t),v1=\(mac.map { String(format: "%02x", $0) }.joined())"
    }

    struct WebhookBody: Encodable {
        struct Recipient: Encodable {
            var id: String?
            var email: String?
        }
        var id: String
        var workflow: String?
        var instance: String?
        var step: String?
        var contact: String?
        var recipient: Recipient
        var message: String
        var sent_at: Date
    }

    static func webhookBody(_ message: OutboxMessage) -> [UInt8] {
        let body = WebhookBody(
            id: message.key, workflow: message.workflow, instance: message.instance, step: message.step,
            contact: message.contact, recipient: .init(id: message.recipient, email: message.recipient_email),
            message: message.message, sent_at: Date())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .rfc3339
        return Array((try? encoder.encode(body)) ?? Data())
    }

    static func slackBody(_ message: OutboxMessage) -> [UInt8] {
        let text = message.recipient.map { "\($0): \(message.message)" } ?? message.message
        return Array((try? JSONEncoder().encode(["text": slackEscaped(text)])) ?? Data())
    }

    /// Slack reads `<…>` in message text as a mention, a link or `<!channel>`; it asks senders to
    /// escape exactly `&`, `<` and `>` so the text shows as written and notifies nobody.
    static func slackEscaped(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

actor RelayState {
    private(set) var stopping = false
    private(set) var delivered = 0
    private var cached: ([String: BatonCore.Channel], ContinuousClock.Instant)?

    func requestStop() { stopping = true }
    func countDelivered() { delivered += 1 }

    func forgetChannels() { cached = nil }

    func channels(from store: Store, refresh: Duration) async throws -> [String: BatonCore.Channel] {
        if let (channels, at) = cached, ContinuousClock.now - at < refresh { return channels }
        let channels = try await store.channels()
        cached = (channels, .now)
        return channels
    }
}
