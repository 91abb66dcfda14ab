import Metrics

/// Every metric Baton emits, with its labels and meaning: the one place to look (docs/metrics.md
/// lists the same, and the alert rules and dashboard in deploy/ are built on these names).
/// The libraries record through swift-metrics only; the executables choose the exporter
/// (Prometheus text at `/metrics`).
public enum BatonMetrics {
    // MARK: - Runtime (baton-worker)

    /// Counter `baton_steps_total{kind, outcome}`: steps taken. kind: assign, notify, wait_for_sla,
    /// escalate, handoff, branch, goto, end; outcome: ok, waiting, failed, retried.
    public static func step(kind: String, outcome: String) {
        Counter(label: "baton_steps_total", dimensions: [("kind", kind), ("outcome", outcome)]).increment()
    }
    /// Histogram `baton_batch_duration_seconds`: claim to commit of one batch.
    public static func batchDuration(_ duration: Duration) {
        Timer(label: "baton_batch_duration_seconds").recordNanoseconds(nanoseconds(duration))
    }
    /// Histogram `baton_claim_duration_seconds`: one claim statement.
    public static func claimDuration(_ duration: Duration) {
        Timer(label: "baton_claim_duration_seconds").recordNanoseconds(nanoseconds(duration))
    }
    /// Histogram `baton_claim_batch_size`: instances per claim (0 when nothing was due).
    public static func claimBatchSize(_ count: Int) {
        Recorder(label: "baton_claim_batch_size", aggregate: true).record(count)
    }
    /// Counter `baton_sla_total{outcome}`: waits ended, met or breached.
    public static func sla(met: Bool) {
        Counter(label: "baton_sla_total", dimensions: [("outcome", met ? "met" : "breached")]).increment()
    }
    /// Counter `baton_escalations_total`.
    public static func escalation() { Counter(label: "baton_escalations_total").increment() }
    /// Counter `baton_handoffs_total`.
    public static func handoff() { Counter(label: "baton_handoffs_total").increment() }
    /// Counter `baton_lease_reclaims_total`: instances claimed after another worker's lease expired.
    public static func leaseReclaims(_ count: Int) {
        Counter(label: "baton_lease_reclaims_total").increment(by: count)
    }
    /// Counter `baton_fencing_rejections_total`: commits refused because the instance was claimed
    /// again (or cancelled) meanwhile.
    public static func fencingRejections(_ count: Int) {
        Counter(label: "baton_fencing_rejections_total").increment(by: count)
    }
    /// Counter `baton_listen_reconnects_total`: LISTEN connections re-established.
    public static func listenReconnect() { Counter(label: "baton_listen_reconnects_total").increment() }
    /// Gauge `baton_worker_up{worker}`: 1 while a worker runs (an alert fires when none reports).
    public static func workerUp(_ worker: String, _ up: Bool) {
        Gauge(label: "baton_worker_up", dimensions: [("worker", worker)]).record(up ? 1 : 0)
    }

    // MARK: - Outbox (the relay inside baton-worker)

    /// Counter `baton_outbox_deliveries_total{channel, outcome}`: outcome delivered, retry, dead.
    public static func delivery(channel: String, outcome: String) {
        Counter(label: "baton_outbox_deliveries_total", dimensions: [("channel", channel), ("outcome", outcome)]).increment()
    }
    /// Histogram `baton_outbox_delivery_duration_seconds{channel}`: one delivery attempt.
    public static func deliveryDuration(channel: String, _ duration: Duration) {
        Timer(label: "baton_outbox_delivery_duration_seconds", dimensions: [("channel", channel)])
            .recordNanoseconds(nanoseconds(duration))
    }

    // MARK: - CRM integration (write-back in the relay, inbound hooks in baton-server)

    /// Counter `baton_crm_writebacks_total{crm, outcome}`: owner write-back deliveries. crm:
    /// hubspot, salesforce; outcome: ok (the CRM accepted the owner), retried (a failure that
    /// will be retried), dead, skipped_human_change (no call: a person set that owner in the CRM),
    /// skipped_unchanged (no call: the CRM holds that owner from an earlier write). A delivery held
    /// back by a rate limit is not counted here (see `baton_crm_rate_limit_waits_total`).
    public static func writeBack(crm: String, outcome: String) {
        Counter(label: "baton_crm_writebacks_total", dimensions: [("crm", crm), ("outcome", outcome)]).increment()
    }
    /// Counter `baton_crm_rate_limit_waits_total{crm, reason}`: write-backs that waited for a
    /// rate limit. reason: limit (the channel's own `rate`, shared by every relay), http_429 (the
    /// CRM answered 429, or a 429 held the channel off: every relay waits for its Retry-After).
    public static func rateLimitWait(crm: String, reason: String) {
        Counter(label: "baton_crm_rate_limit_waits_total", dimensions: [("crm", crm), ("reason", reason)]).increment()
    }
    /// Histogram `baton_crm_writeback_duration_seconds{crm}`: one write-back call to the CRM,
    /// request to answer (calls not made are not measured).
    public static func writeBackDuration(crm: String, _ duration: Duration) {
        Timer(label: "baton_crm_writeback_duration_seconds", dimensions: [("crm", crm)]).recordNanoseconds(nanoseconds(duration))
    }
    /// Counter `baton_inbound_events_total{source, type, outcome}`: events received on
    /// `/hooks/…/{source}`. type: the event's type when the source maps that type, else other
    /// (bounded by the sources file, whatever a sender sends), unknown for a refused request;
    /// outcome: started, signalled, owner_changed, staged (a `stage: true` mapping set the record's
    /// lifecycle stage), rejected (a value that is no stage), ignored (maps to nothing, or nothing to do),
    /// duplicate (seen before: a redelivery), rejected_signature (a bad, missing or stale
    /// signature: the request counts once, its body is not read).
    public static func inboundEvents(source: String, type: String, outcome: String, _ count: Int = 1) {
        Counter(label: "baton_inbound_events_total", dimensions: [("source", source), ("type", type), ("outcome", outcome)])
            .increment(by: count)
    }

    // MARK: - Sampled from the database (every few seconds, cheap statements)

    /// Gauge `baton_instances{state}`: instances by state (live states counted exactly, finished ones estimated).
    public static func instances(state: String, _ count: Int) {
        Gauge(label: "baton_instances", dimensions: [("state", state)]).record(count)
    }
    /// Gauge `baton_backlog_due`: instances due now (ready, or waits past their deadline) not yet claimed.
    public static func backlog(_ count: Int) { Gauge(label: "baton_backlog_due").record(count) }
    /// Gauge `baton_backlog_age_seconds`: how long the oldest due instance has waited.
    public static func backlogAge(seconds: Double) { Gauge(label: "baton_backlog_age_seconds").record(seconds) }
    /// Gauge `baton_outbox_pending{status}`: pending and dead deliveries.
    public static func outbox(status: String, _ count: Int) {
        Gauge(label: "baton_outbox_deliveries", dimensions: [("status", status)]).record(count)
    }

    // MARK: - Database pool

    /// Gauge `baton_pool_connections_in_use{pool}`.
    public static func poolInUse(_ pool: String, _ count: Int) {
        Gauge(label: "baton_pool_connections_in_use", dimensions: [("pool", pool)]).record(count)
    }
    /// Histogram `baton_pool_wait_seconds{pool}`: time to check out a connection.
    public static func poolWait(_ pool: String, _ duration: Duration) {
        Timer(label: "baton_pool_wait_seconds", dimensions: [("pool", pool)]).recordNanoseconds(nanoseconds(duration))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : scaled &+ attoseconds / 1_000_000_000
    }
}
