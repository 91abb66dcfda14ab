import Logging

/// Samples the database-derived gauges (instances by state, due backlog and its age, outbox) every
/// `interval`, until cancelled. One cheap statement per interval per process.
public struct MetricsSampler: Sendable {
    let store: Store
    let interval: Duration
    let logger: Logger

    public init(store: Store, interval: Duration = .seconds(5), logger: Logger = Logger(label: "baton.metrics")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// Samples now and then every interval; returns when the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                let sample = try await store.sampleRuntime()
                for (state, count) in sample.states { BatonMetrics.instances(state: state, count) }
                BatonMetrics.backlog(sample.due)
                BatonMetrics.backlogAge(seconds: sample.oldestDueSeconds)
                for (status, count) in sample.outbox { BatonMetrics.outbox(status: status, count) }
                let pool = await store.pool.statistics
                BatonMetrics.poolInUse(store.pool.config.applicationName, pool.open - pool.idle)
            } catch {
                logger.debug("metrics sample failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
