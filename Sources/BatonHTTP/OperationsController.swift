import Baton
import BatonCore
import Foundation
import Hummingbird

/// What an admin watches: `/v1/stuck`, `/v1/stats`, `/v1/audit`, `/v1/outbox` (and retrying a delivery).
struct OperationsController {
    let store: Store
    let settings: ServerSettings

    func register(on group: RouterGroup<BatonRequestContext>) {
        group.get("stuck", use: stuck)
        group.get("stats", use: stats)
        group.get("audit", use: audit)
        group.get("outbox", use: outbox)
        group.post("outbox/{id}/retry", use: retryOutbox)
    }

    /// `GET /v1/stuck?older_than=30s`.
    @Sendable func stuck(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let olderThan = try span(request, "older_than", default: 30)
        return JSON.response(try await store.stuck(olderThan: olderThan))
    }

    /// `GET /v1/stats?workflow=&since=7d`, `?by=owner|team&conversion_signal=&churn_signal=`, or
    /// `?by=stage&workflow=`.
    @Sendable func stats(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let since = try optionalSpan(request, "since")
        let from = since.map { Date().addingTimeInterval(-TimeInterval($0)) } ?? Date(timeIntervalSince1970: 0)
        let q = request.uri.queryParameters
        if q.get("by") == "stage" {
            return JSON.response(try await store.statsByStage(workflow: q.get("workflow"), since: from))
        }
        if let by = q.get("by") {
            guard let grouping = AttributionGrouping(rawValue: by) else { throw Problem.invalid("by must be owner, team or stage, got \(by)") }
            if q.get("workflow") != nil { throw Problem.invalid("by counts every workflow; leave out workflow") }
            let conversion = q.get("conversion_signal") ?? "purchased", churn = q.get("churn_signal") ?? "churned"
            for (name, value) in [("conversion_signal", conversion), ("churn_signal", churn)] where value.isEmpty || value.count > 200 {
                throw Problem.invalid("\(name) must be a signal name of 1 to 200 characters")
            }
            return JSON.response(try await store.attribution(by: grouping, since: from, conversionSignal: conversion, churnSignal: churn))
        }
        return JSON.response(try await store.stats(workflow: request.uri.queryParameters.get("workflow"), since: from))
    }

    /// `GET /v1/audit?queued_longer_than=1h&stale_days=14&volume_multiple=3`.
    @Sendable func audit(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let queued = try span(request, "queued_longer_than", default: 3600)
        let q = request.uri.queryParameters
        let staleDays = try q.get("stale_days").map { text -> Int in
            guard let n = Int(text), (1...3650).contains(n) else { throw Problem.invalid("stale_days must be a number from 1 to 3650, got \(text)") }
            return n
        } ?? AuditOptions.defaultStaleDays
        let multiple = try q.get("volume_multiple").map { text -> Double in
            guard let x = Double(text), x > 0, x.isFinite else { throw Problem.invalid("volume_multiple must be a number above 0, got \(text)") }
            return x
        } ?? AuditOptions.defaultVolumeMultiple
        return JSON.response(try await store.audit(AuditOptions(queuedLongerThan: queued, staleDays: staleDays, volumeMultiple: multiple)))
    }

    static let outboxStates = ["pending", "delivering", "delivered", "dead", "suppressed"]

    /// `GET /v1/outbox?state=dead&limit=100`.
    @Sendable func outbox(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let q = request.uri.queryParameters
        let state = q.get("state")
        if let state, !Self.outboxStates.contains(state) {
            throw Problem.invalid("state must be one of \(Self.outboxStates.joined(separator: ", ")), got \(state)")
        }
        let limit = try q.get("limit").map { text -> Int in
            guard let n = Int(text), (1...1000).contains(n) else { throw Problem.invalid("limit must be a number from 1 to 1000, got \(text)") }
            return n
        } ?? 100
        return JSON.response(try await store.outbox(status: state, limit: limit))
    }

    /// `POST /v1/outbox/{id}/retry`: a dead delivery is sent again with a fresh attempt budget.
    @Sendable func retryOutbox(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.admin, to: "retrying a delivery")
        let text = context.parameters.get("id") ?? ""
        guard let id = Int(text), id > 0 else { throw Problem.notFound("no delivery \(text): ids are positive numbers") }
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let retried = try await store.retryOutbox(id: id)
            guard !retried.isEmpty else {
                throw Problem(.conflict, .conflict, "delivery \(id) is not dead (or does not exist); only dead deliveries are retried")
            }
            struct Retried: Codable { var id: String; var status: String }
            return Reply(Retried(id: String(id), status: "pending"))
        }
    }

    /// A duration query parameter (`90s`, `15m`, `4h`, `3d`) in seconds.
    private func optionalSpan(_ request: Request, _ name: String) throws -> Int? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let span = TimeSpan(parsing: text) else { throw Problem.invalid("\(name): bad duration \(text) (e.g. 90s, 15m, 4h, 3d)") }
        return span.seconds
    }

    private func span(_ request: Request, _ name: String, default value: Int) throws -> Int {
        try optionalSpan(request, name) ?? value
    }
}
