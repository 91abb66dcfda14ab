import BatonCore
import Foundation
import Logging
import Postgres

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
    /// Appears in leases, timelines and logs.
    public var id: String
    /// Batches processed in parallel (claim loops).
    public var concurrency: Int
    /// Instances claimed per batch.
    public var batchSize: Int
    /// How often an idle loop looks for due work when no NOTIFY woke it (timers fire within this).
    public var pollInterval: Duration
    /// How long a claim holds an instance before other workers may take it over.
    public var lease: Duration
    /// Exit once nothing is due instead of waiting for more work.
    public var untilIdle: Bool
    /// A batch still in flight after this long stops renewing its leases (a hung connection, a
    /// statement stuck on a dead host): the leases run out, other workers take the instances
    /// over, and the fence keeps anything this batch still tries to commit from landing.
    public var maxBatchTime: Duration
    /// Waits between attempts of a claim loop whose batch failed (database down, …).
    public var loopBackoff: Backoff
    /// Where the wake-up listener LISTENs: a direct connection (nil: the pool's own server, which
    /// must then not be a transaction pooler; without a direct connection the loops only poll).
    public var listen: ConnectionConfig?

    public init(id: String, concurrency: Int = 2, batchSize: Int = 50, pollInterval: Duration = .seconds(1),
                lease: Duration = .seconds(10), untilIdle: Bool = false, maxBatchTime: Duration = .seconds(60),
                loopBackoff: Backoff = Backoff(base: .milliseconds(100), cap: .seconds(5)), listen: ConnectionConfig? = nil) {
        self.id = id
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.lease = lease
        self.untilIdle = untilIdle
        self.maxBatchTime = maxBatchTime
        self.loopBackoff = loopBackoff
        self.listen = listen
    }
}

/// Counts of what a worker did.
public struct WorkerStatistics: Sendable {
    public var batches = 0
    public var instances = 0
    public var steps = 0
    public var lostLeases = 0
    public var failures = 0
}

/// Claims due instances in batches, advances them with the pure Machine, and commits each batch
/// in one statement. Stateless: run as many as you like, anywhere.
public final class Worker: Sendable {
    public let configuration: WorkerConfiguration
    let store: Store
    let logger: Logger
    let machine: Machine
    private let wake = WakeSignal()
    private let state = WorkerState()

    public init(store: Store, configuration: WorkerConfiguration, machine: Machine = Machine(),
                logger: Logger = Logger(label: "baton.worker")) {
        self.store = store
        self.configuration = configuration
        self.machine = machine
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
    }

    /// Asks the worker to stop: it claims nothing more, commits what it holds, and `run` returns.
    /// Safe to call more than once, from any task or a signal handler's task.
    public func stop() async {
        await state.requestStop()
        await wake.signal()
    }

    /// What the worker has done so far.
    public var statistics: WorkerStatistics {
        get async { await state.statistics }
    }

    /// Runs until `stop()` (or, with `untilIdle`, until nothing is due).
    public func run() async throws {
        logger.info("worker started", metadata: [
            "concurrency": "\(configuration.concurrency)", "batch": "\(configuration.batchSize)",
            "poll": "\(configuration.pollInterval)", "lease": "\(configuration.lease)",
        ])
        let listener = Task { await self.wakeListener?.run(waking: self.wake) }
        defer { listener.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for loop in 0..<configuration.concurrency {
                group.addTask { await self.claimLoop(loop) }
            }
            await group.waitForAll()
        }
        listener.cancel()
        let stats = await state.statistics
        logger.info("worker stopped", metadata: [
            "instances": "\(stats.instances)", "steps": "\(stats.steps)", "lost_leases": "\(stats.lostLeases)",
        ])
    }

    private func claimLoop(_ loop: Int) async {
        var failures = 0
        while await !state.stopping {
            do {
                let processed = try await processOneBatch()
                failures = 0
                if processed == 0 {
                    if configuration.untilIdle {
                        guard let wait = await putBackWait() else { return }
                        try? await Task.sleep(for: wait)
                        continue
                    }
                    await wake.wait(timeout: await idleWait())
                }
            } catch {
                failures += 1
                let delay = configuration.loopBackoff.delay(attempt: failures)
                logger.warning("batch failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                if configuration.untilIdle && failures > 20 { return }
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Before an until-idle loop exits: how long to wait for the instances this worker put back
    /// (their contact was busy) to be due again, nil when none is left to wait for. The database
    /// says which are still unclaimed and when they are due, so a slow moment between a claim that
    /// missed one and this check cannot leave it behind. A contact held by a session that stays
    /// open ends the wait: nothing committed for `putBackPatience` since the first put-back.
    private func putBackWait() async -> Duration? {
        let held = await state.putBackInstances
        guard !held.isEmpty, await state.stalledFor < Self.putBackPatience else { return nil }
        guard let milliseconds = try? await store.millisecondsUntilReady(held.map { (id: $0.key, fence: $0.value) }) else {
            await state.forgetPutBack(held)
            return nil
        }
        return .milliseconds(min(max(milliseconds, 0), Double(contendedDelay.wholeMilliseconds))) + .milliseconds(10)
    }

    /// How long an idle loop waits for a wake-up: the poll interval, or less when a deadline, a
    /// backoff or a lease falls due sooner (`Store.millisecondsUntilNextDue`), so a breach is handled
    /// as its deadline passes rather than at the next poll. Something already due that this loop
    /// could not claim is another worker's: then the poll interval. A failing read changes nothing
    /// (the next claim meets the same fault and backs off).
    private func idleWait() async -> Duration {
        let poll = configuration.pollInterval
        guard let milliseconds = try? await store.millisecondsUntilNextDue(), milliseconds > 0 else { return poll }
        // A millisecond past the due time, so the claim's now() has passed it (clamped first: a
        // deadline years away is still the poll interval).
        return min(poll, .milliseconds(min(milliseconds, Double(poll.wholeMilliseconds))) + .milliseconds(1))
    }

    /// Claims, advances and commits one batch; returns how many instances it claimed.
    ///
    /// Everything that can go wrong with one instance stays with that instance: a row that cannot
    /// be read, a definition that cannot be loaded, an instance whose commit fails. Each goes
    /// through the retry path on its own (`failInstance`); the rest of the batch proceeds.
    func processOneBatch() async throws -> Int {
        let batchStarted = ContinuousClock.now
        let batch = try await store.claim(worker: configuration.id, limit: configuration.batchSize, lease: configuration.lease)
        let claimed = batch.instances.count + batch.unreadable.count
        BatonMetrics.claimDuration(ContinuousClock.now - batchStarted)
        BatonMetrics.claimBatchSize(claimed)
        if batch.reclaimed > 0 { BatonMetrics.leaseReclaims(batch.reclaimed) }
        guard claimed > 0 else { return 0 }
        defer { BatonMetrics.batchDuration(ContinuousClock.now - batchStarted) }
        let renewer = renewLeases(batch.instances.map { (id: $0.id, fence: $0.fence) }
                                  + batch.unreadable.map { (id: $0.id, fence: $0.fence) })
        defer { renewer.cancel() }

        for bad in batch.unreadable {
            await failInstance(bad, error: "cannot read the instance: \(bad.error)", definition: nil)
        }
        let directory = try await state.directory(from: store)
        var definitions: [String: WorkflowDefinition] = [:]
        var runnable: [InstanceSnapshot] = []
        for instance in batch.instances {
            let key = "\(instance.workflow)@\(instance.version)"
            do {
                if definitions[key] == nil {
                    // A version that is not stored has no steps: the Machine fails the instance with that error.
                    definitions[key] = try await state.definition(instance.workflow, instance.version, from: store)
                        ?? WorkflowDefinition(name: instance.workflow, start: instance.step, steps: [])
                }
                runnable.append(instance)
            } catch {
                await failInstance(
                    UnreadableInstance(instance, error: "\(error)"),
                    error: "\(instance.workflow) v\(instance.version) cannot be loaded by this version of Baton: \(error)",
                    definition: nil)
            }
        }
        let limited = Set(directory.members.values.filter { $0.capacity != nil }.map(\.id))
        var outcomes: [LockedCommit] = []
        do {
            outcomes.append(try await commitLocked(runnable, definitions: definitions, directory: directory,
                                                   limited: limited, now: batch.now))
        } catch let error as PostgresError where error.isContention {
            // Out of time against other sessions (a lock or statement timeout, a deadlock): nothing
            // was written and nothing is wrong with the instances. Put them back without costing
            // them an attempt; they are due again in a moment.
            logger.notice("batch commit timed out against other sessions; instances put back", metadata: [
                "instances": "\(runnable.count)", "error": "\(error)",
            ])
            try await store.release(runnable.map { (id: $0.id, fence: $0.fence) }, worker: configuration.id,
                                    after: contendedDelay)
            await state.putBack(runnable)
        } catch let error as PostgresError where !error.isConnectionError {
            // One bad instance must not hold the others back: commit them one by one, each through
            // the same locked path (capacity, rotation, fresh contact), and fail only the bad ones.
            logger.warning("batch commit failed; committing instances one by one", metadata: ["error": "\(error)"])
            for instance in runnable {
                do {
                    outcomes.append(try await commitLocked([instance], definitions: definitions, directory: directory,
                                                           limited: limited, now: batch.now))
                } catch let error as PostgresError where error.isContention {
                    try await store.release([(id: instance.id, fence: instance.fence)], worker: configuration.id,
                                            after: contendedDelay)
                    await state.putBack([instance])
                    logger.notice("instance commit timed out against other sessions; put back", metadata: [
                        "instance": "\(instance.id)", "error": "\(error)",
                    ])
                } catch {
                    logger.error("instance could not be committed", metadata: ["instance": "\(instance.id)", "error": "\(error)"])
                    await failInstance(UnreadableInstance(instance, error: "\(error)"), error: "\(error)",
                                       definition: definitions["\(instance.workflow)@\(instance.version)"])
                }
            }
        }
        let workflowKeys = Dictionary(runnable.map { ($0.id, "\($0.workflow)@\($0.version)") }, uniquingKeysWith: { a, _ in a })
        for outcome in outcomes {
            WorkerMetrics.record(outcome, definitions: definitions, workflows: workflowKeys)
            for bad in outcome.unreadable {
                await failInstance(bad, error: "cannot read the instance: \(bad.error)",
                                   definition: definitions["\(bad.workflow)@\(bad.version)"])
            }
            if !outcome.lost.isEmpty {
                logger.notice("lease lost before commit; effects discarded", metadata: ["instances": "\(outcome.lost.count)"])
            }
            if !outcome.contended.isEmpty {
                let contended = Set(outcome.contended)
                await state.putBack(runnable.filter { contended.contains($0.id) })
                logger.debug("contact busy in another transaction; instances put back",
                             metadata: ["instances": "\(outcome.contended.count)"])
            }
            for advance in outcome.advances where advance.state == .failed {
                logger.error("instance failed", metadata: [
                    "instance": "\(advance.instance)", "step": "\(advance.step)", "error": "\(advance.lastError ?? "")",
                ])
            }
            await state.record(outcome)
        }
        await state.countBatch()
        return claimed
    }

    /// Renews the batch's leases every third of a lease while it is in flight, for at most
    /// `maxBatchTime`: a batch that makes no progress (a hung connection) lets its leases lapse.
    private func renewLeases(_ held: [(id: Int, fence: Int)]) -> Task<Void, Never> {
        let (store, configuration, logger) = (store, configuration, logger)
        return Task {
            let started = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.lease / 3)
                if Task.isCancelled { return }
                guard ContinuousClock.now - started < configuration.maxBatchTime else {
                    logger.warning("batch in flight too long; no longer renewing its leases", metadata: [
                        "instances": "\(held.count)", "max_batch_time": "\(configuration.maxBatchTime)",
                    ])
                    return
                }
                do {
                    try await store.renewLeases(held, worker: configuration.id, lease: configuration.lease)
                } catch {
                    logger.debug("lease renewal failed; trying again", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Runs the Machine over `instances` inside `Store.advanceLocked`, which re-reads their contacts
    /// and signals under lock, counts round-robin demand, reserves positions and commits. Instances
    /// of one contact run in claim order, each on the contact as the previous one left it.
    func commitLocked(_ instances: [InstanceSnapshot], definitions: [String: WorkflowDefinition], directory: Directory,
                      limited: Set<String>, now: Date) async throws -> LockedCommit {
        try await store.advanceLocked(
            instances, worker: configuration.id, now: now, limited: limited, contendedDelay: contendedDelay
        ) { instances, loads, rotation in
            var directory = directory
            for (member, open) in loads { directory.members[member]?.openCount = open }
            var contacts: [String: ContactSnapshot] = [:]
            return instances.map { instance in
                var instance = instance
                if let latest = contacts[instance.contact.id] { instance.contact = latest }
                let definition = definitions["\(instance.workflow)@\(instance.version)"]
                    ?? WorkflowDefinition(name: instance.workflow, start: instance.step, steps: [])
                let advance = machine.advance(instance, definition: definition, directory: &directory, rotation: &rotation,
                                              now: now, jitter: jitter(instance))
                contacts[instance.contact.id] = advance.contact ?? instance.contact
                return advance
            }
        }
    }

    /// LISTENs for `baton_wake` (work enrolled, signalled, retried) on a direct connection; nil when
    /// there is none (the pool goes through a transaction pooler and no listen URL was given).
    private var wakeListener: WakeListener? {
        let config = configuration.listen ?? store.pool.config
        guard config.pooling == .direct else { return nil }
        return WakeListener(config: config, channels: ["baton_wake"], logger: logger)
    }

    /// The pause before an instance whose contact was locked elsewhere is due again.
    private let contendedDelay = Duration.milliseconds(200)
    /// How long `untilIdle` keeps waiting for put-back instances while none makes progress.
    static let putBackPatience = Duration.seconds(5)

    /// Fails one attempt of an instance the Machine could not run (unreadable, undecodable version,
    /// failed commit): its step's `max_attempts` (else the Machine's default), the Machine's backoff.
    private func failInstance(_ instance: UnreadableInstance, error: String, definition: WorkflowDefinition?) async {
        let maxAttempts = definition?.step(instance.step)?.maxAttempts ?? machine.defaultMaxAttempts
        func millis(_ seconds: TimeInterval) -> Int64 { Int64(min(max(0, seconds), 1e9) * 1000) }
        let backoff = Backoff(base: .milliseconds(millis(machine.baseBackoff)), cap: .milliseconds(millis(machine.maxBackoff)))
        let line = error.split(separator: "\n").first.map(String.init) ?? error
        logger.error("instance failed an attempt outside its steps", metadata: [
            "instance": "\(instance.id)", "attempt": "\(instance.attempt + 1)", "error": "\(line)",
        ])
        do {
            try await store.recordFailure(
                instance: instance.id, fence: instance.fence, worker: configuration.id, error: line,
                maxAttempts: maxAttempts, retryIn: backoff.delay(attempt: instance.attempt + 1),
                from: instance.priorState)
        } catch {
            logger.warning("could not record the failure; the lease will run out and the instance run again",
                           metadata: ["instance": "\(instance.id)", "error": "\(error)"])
        }
    }

    /// Deterministic per claim (so both passes agree), different across instances and attempts.
    private func jitter(_ instance: InstanceSnapshot) -> Double {
        var hasher = Hasher()
        hasher.combine(instance.id)
        hasher.combine(instance.fence)
        return Double(UInt64(bitPattern: Int64(hasher.finalize())) % 1000) / 1000
    }
}

extension UnreadableInstance {
    /// A claimed instance that must fail one attempt without running, with `error`.
    init(_ instance: InstanceSnapshot, error: String) {
        self.init(id: instance.id, fence: instance.fence, workflow: instance.workflow, version: instance.version,
                  step: instance.step, attempt: instance.attempt, priorState: instance.state, error: error)
    }
}

/// The worker's mutable state: stop flag, caches, statistics.
actor WorkerState {
    private(set) var stopping = false
    private(set) var statistics = WorkerStatistics()
    private var definitions: [String: WorkflowDefinition] = [:]
    private var cachedDirectory: (Directory, ContinuousClock.Instant)?
    private var openWork: Refreshing<[String: Int]>?

    func requestStop() { stopping = true }

    /// Since when this worker has put instances back without committing anything (nil: it committed
    /// since its last put-back).
    private var stalledSince: ContinuousClock.Instant?

    var stalledFor: Duration { stalledSince.map { .now - $0 } ?? .zero }

    func record(_ outcome: LockedCommit) {
        if !outcome.advances.isEmpty { stalledSince = nil }
        // This worker's own assignments move the kept open counts until they are counted again, so
        // `least_loaded` spreads work between recounts instead of giving it all to one member.
        let changes = outcome.advances.flatMap(\.ownerChanges).map { (from: $0.from, to: $0.to) }
        if let openWork, !changes.isEmpty {
            Task {
                await openWork.adjust { counts in
                    for change in changes {
                        if let to = change.to { counts[to, default: 0] += 1 }
                        if let from = change.from, let open = counts[from], open > 0 { counts[from] = open - 1 }
                    }
                }
            }
        }
        for advance in outcome.advances {
            statistics.instances += 1
            statistics.steps += advance.events.count
            if advance.state == .failed { statistics.failures += 1 }
        }
        statistics.lostLeases += outcome.lost.count
    }

    func countBatch() { statistics.batches += 1 }

    /// The instances this worker put back (their contact was busy), id to the fence they were put
    /// back with, that until-idle still waits for.
    private(set) var putBackInstances: [Int: Int] = [:]

    func putBack(_ instances: [InstanceSnapshot]) {
        guard !instances.isEmpty else { return }
        for instance in instances { putBackInstances[instance.id] = instance.fence }
        if stalledSince == nil { stalledSince = .now }
    }

    func forgetPutBack(_ instances: [Int: Int]) {
        for (id, fence) in instances where putBackInstances[id] == fence { putBackInstances[id] = nil }
    }

    /// Definitions never change once stored (a change is a new version), so they are cached for good.
    func definition(_ name: String, _ version: Int, from store: Store) async throws -> WorkflowDefinition? {
        let key = "\(name)@\(version)"
        if let cached = definitions[key] { return cached }
        guard let stored = try await store.workflow(name, version: version), stored.version == version else { return nil }
        definitions[key] = stored.definition
        return stored.definition
    }

    /// Teams and members change rarely; a snapshot is reused for up to a second. Members' open work
    /// is counted over every owned contact (about a second at a million live instances): while that
    /// is cheap it is recounted with the rest, and once it is not, the kept counts serve while a
    /// recount runs in the background, at most once per ten times its cost (see `Refreshing`). They
    /// only rank members for `least_loaded` and pre-filter full ones: a capacity is checked exactly,
    /// under lock, when work is given (`Store.memberLoads`).
    func directory(from store: Store) async throws -> Directory {
        if let (directory, at) = cachedDirectory, ContinuousClock.now - at < .seconds(1) { return directory }
        let openWork: Refreshing<[String: Int]>
        if let existing = self.openWork {
            openWork = existing
        } else {
            openWork = Refreshing(maximumAge: .seconds(1), expensive: .milliseconds(50)) { try await store.openWork() }
            self.openWork = openWork
        }
        let open = try await openWork.current()
        let directory = try await store.directory(openWork: open)
        cachedDirectory = (directory, .now)
        return directory
    }
}
