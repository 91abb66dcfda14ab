import BatonCore
import Foundation
import Logging

/// Runs due schedules (`schedules:` files): claims each due one like an instance (lease + fence),
/// does its action, and commits the next run time with the action's outbox rows in one
/// transaction, so each period runs exactly once across all workers, a killed one included.
/// Missed periods (no worker running) are not caught up: the next run is the first after now.
public final class ScheduleRunner: Sendable {
    let store: Store
    let worker: String
    let lease: Duration
    let pollInterval: Duration
    let logger: Logger
    private let wake = WakeSignal()
    private let stopping = StopFlag()

    /// - Parameters: `worker` names the claimer in leases and `schedule_runs`; `lease` is how long a
    ///   claim holds before another worker may take the period over.
    public init(store: Store, worker: String, lease: Duration, pollInterval: Duration = .seconds(1),
                logger: Logger = Logger(label: "baton.schedules")) {
        self.store = store
        self.worker = worker
        self.lease = lease
        self.pollInterval = min(pollInterval, .seconds(1))
        self.logger = logger
    }

    /// Stops after the run in progress. Idempotent.
    public func stop() async {
        stopping.set()
        await wake.signal()
    }

    /// Runs until `stop()`.
    public func run() async {
        while !stopping.isSet {
            let ran = await runDue()
            if ran == 0 { await wake.wait(timeout: pollInterval) }
        }
    }

    /// Runs every schedule due now once; returns how many committed.
    @discardableResult
    public func runDue() async -> Int {
        let claimed: [ClaimedSchedule]
        do {
            claimed = try await store.claimSchedules(worker: worker, lease: lease)
        } catch {
            logger.warning("claiming schedules failed", metadata: ["error": "\(error)"])
            return 0
        }
        var committed = 0
        for claim in claimed {
            do {
                if try await runOne(claim) { committed += 1 }
            } catch {
                logger.error("schedule run failed; it is retried", metadata: [
                    "schedule": "\(claim.schedule.name)", "error": "\(error)"])
                try? await store.releaseSchedule(claim, worker: worker, retryAfter: .seconds(5))
            }
        }
        return committed
    }

    func runOne(_ claim: ClaimedSchedule) async throws -> Bool {
        let schedule = claim.schedule
        guard let next = try schedule.expression().next(after: max(claim.now, claim.period)) else {
            throw BatonError.invalid("schedule \(schedule.name) never runs again")
        }
        let messages: [ScheduledMessage]
        switch schedule.action {
        case .exceptionReport:
            var options = AuditOptions()
            if let days = schedule.staleDays { options.staleDays = days }
            if let multiple = schedule.volumeMultiple { options.volumeMultiple = multiple }
            if let queued = schedule.queuedLongerThan { options.queuedLongerThan = queued.seconds }
            let findings = try await store.audit(options)
            messages = AuditReport.messages(
                schedule: schedule.name, period: claim.period, channel: schedule.channel, findings: findings,
                directory: try await store.directory())
        }
        let done = try await store.finishScheduleRun(claim, worker: worker, next: next, messages: messages)
        if done {
            logger.info("schedule ran", metadata: [
                "schedule": "\(schedule.name)", "period": "\(RFC3339.string(claim.period))", "messages": "\(messages.count)",
                "next": "\(RFC3339.string(next))"])
        } else {
            logger.warning("schedule run lost its claim; another worker has the period", metadata: ["schedule": "\(schedule.name)"])
        }
        return done
    }
}

/// Set once. `@unchecked Sendable`: `value` is only touched under `lock`.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
