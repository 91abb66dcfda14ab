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

    public init(id: String, concurrency: Int = 2, batchSize: Int = 50, pollInterval: Duration = .seconds(1),
                lease: Duration = .seconds(10), untilIdle: Bool = false) {
        self.id = id
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.lease = lease
        self.untilIdle = untilIdle
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
        let listener = Task { await listenForWakeups() }
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
                    if configuration.untilIdle { return }
                    await wake.wait(timeout: configuration.pollInterval)
                }
            } catch {
                failures += 1
                let delay = Duration.milliseconds(min(5000, 100 * (1 << min(failures, 6))))
                logger.warning("batch failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                if configuration.untilIdle && failures > 20 { return }
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Claims, advances and commits one batch; returns how many instances it claimed.
    func processOneBatch() async throws -> Int {
        let batch = try await store.claim(worker: configuration.id, limit: configuration.batchSize, lease: configuration.lease)
        guard !batch.instances.isEmpty else { return 0 }
        let held = batch.instances.map { (id: $0.id, fence: $0.fence) }
        // Renew the leases while the batch is in flight (normally milliseconds).
        let renewer = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: configuration.lease / 3)
                try await store.renewLeases(held, worker: configuration.id, lease: configuration.lease)
            }
        }
        defer { renewer.cancel() }

        let directory = try await state.directory(from: store)
        let advances = try await advance(batch, directory: directory)
        var committed: Set<Int>
        do {
            let limited = Set(directory.members.values.filter { $0.capacity != nil }.map(\.id))
            let result = try await store.commitWithinCapacity(
                advances, limited: limited, worker: configuration.id, now: batch.now)
            committed = result.committed
            if !result.rejected.isEmpty {
                // Members filled up meanwhile: route these again with fresh loads.
                await state.forgetDirectory()
                try await store.release(result.rejected.map { (id: $0.instance, fence: $0.fence) }, worker: configuration.id)
                committed.formUnion(result.rejected.map(\.instance))
                logger.debug("re-routing instances whose member reached capacity", metadata: ["instances": "\(result.rejected.count)"])
            }
        } catch let error as PostgresError where !error.isConnectionError {
            // One bad instance must not hold the others back: commit them one by one.
            logger.warning("batch commit failed; committing instances one by one", metadata: ["error": "\(error)"])
            committed = []
            for advance in advances {
                do {
                    committed.formUnion(try await store.commit([advance], worker: configuration.id, now: batch.now))
                } catch {
                    logger.error("instance could not be committed", metadata: ["instance": "\(advance.instance)", "error": "\(error)"])
                    try? await store.recordFailure(instance: advance.instance, fence: advance.fence,
                                                   worker: configuration.id, error: "\(error)")
                }
            }
        }
        let lost = advances.count - committed.count
        if lost > 0 { logger.notice("lease lost before commit; effects discarded", metadata: ["instances": "\(lost)"]) }
        for advance in advances where committed.contains(advance.instance) && advance.state == .failed {
            logger.error("instance failed", metadata: [
                "instance": "\(advance.instance)", "step": "\(advance.step)", "error": "\(advance.lastError ?? "")",
            ])
        }
        await state.record(batch: advances, committed: committed)
        return batch.instances.count
    }

    /// Runs the Machine over a batch: once counting round-robin demand per team, then again with
    /// positions reserved for exactly that demand in one statement.
    func advance(_ batch: ClaimedBatch, directory: Directory) async throws -> [Advance] {
        var definitions: [String: WorkflowDefinition] = [:]
        for instance in batch.instances {
            let key = "\(instance.workflow)@\(instance.version)"
            if definitions[key] == nil { definitions[key] = try await state.definition(instance.workflow, instance.version, from: store) }
        }
        func runAll(_ rotation: inout Rotation) -> [Advance] {
            var directory = directory
            return batch.instances.map { instance in
                // A version that cannot be loaded has no steps: the Machine fails the instance with that error.
                let definition = definitions["\(instance.workflow)@\(instance.version)"]
                    ?? WorkflowDefinition(name: instance.workflow, start: instance.step, steps: [])
                return machine.advance(instance, definition: definition, directory: &directory, rotation: &rotation,
                                       now: batch.now, jitter: jitter(instance))
            }
        }
        var counting = Rotation()
        let trial = runAll(&counting)
        guard !counting.used.isEmpty else { return trial }
        let starts = try await store.reserveRotation(counting.used)
        var reserved = Rotation(starts: starts)
        return runAll(&reserved)
    }

    /// Deterministic per claim (so both passes agree), different across instances and attempts.
    private func jitter(_ instance: InstanceSnapshot) -> Double {
        var hasher = Hasher()
        hasher.combine(instance.id)
        hasher.combine(instance.fence)
        return Double(UInt64(bitPattern: Int64(hasher.finalize())) % 1000) / 1000
    }

    private func listenForWakeups() async {
        while !Task.isCancelled {
            do {
                let connection = try await Connection.connect(store.pool.config, logger: logger)
                let notifications = try await connection.notifications(listeningTo: ["baton_wake"])
                do {
                    for try await _ in notifications { await wake.signal() }
                } catch {
                    logger.notice("wake-up listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
                }
                await connection.close()
            } catch {
                logger.debug("wake-up listener cannot connect; polling meanwhile", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// The worker's mutable state: stop flag, caches, statistics.
actor WorkerState {
    private(set) var stopping = false
    private(set) var statistics = WorkerStatistics()
    private var definitions: [String: WorkflowDefinition] = [:]
    private var cachedDirectory: (Directory, ContinuousClock.Instant)?

    func requestStop() { stopping = true }

    func forgetDirectory() { cachedDirectory = nil }

    func record(batch advances: [Advance], committed: Set<Int>) {
        statistics.batches += 1
        for advance in advances where committed.contains(advance.instance) {
            statistics.instances += 1
            statistics.steps += advance.events.count
            if advance.state == .failed { statistics.failures += 1 }
        }
        statistics.lostLeases += advances.count - committed.count
    }

    /// Definitions never change once stored (a change is a new version), so they are cached for good.
    func definition(_ name: String, _ version: Int, from store: Store) async throws -> WorkflowDefinition? {
        let key = "\(name)@\(version)"
        if let cached = definitions[key] { return cached }
        guard let stored = try await store.workflow(name, version: version), stored.version == version else { return nil }
        definitions[key] = stored.definition
        return stored.definition
    }

    /// Teams and members change rarely; a snapshot is reused for up to a second.
    func directory(from store: Store) async throws -> Directory {
        if let (directory, at) = cachedDirectory, ContinuousClock.now - at < .seconds(1) { return directory }
        let directory = try await store.directory()
        cachedDirectory = (directory, .now)
        return directory
    }
}

/// Wakes idle loops when a NOTIFY arrives or a stop is requested. A signal that comes while no
/// loop is waiting is kept, so a loop about to wait returns at once instead of missing it.
actor WakeSignal {
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextID: UInt64 = 0
    private var pending = false

    func signal() {
        if waiters.isEmpty {
            pending = true
            return
        }
        let all = waiters
        waiters.removeAll()
        for waiter in all.values { waiter.resume() }
    }

    /// Returns at the next `signal()` (or at once if one is pending) or after `timeout`.
    func wait(timeout: Duration) async {
        if pending {
            pending = false
            return
        }
        nextID += 1
        let id = nextID
        await withCheckedContinuation { continuation in
            waiters[id] = continuation
            Task {
                try? await Task.sleep(for: timeout)
                self.fire(id)
            }
        }
    }

    private func fire(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
