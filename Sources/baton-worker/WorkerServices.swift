import Baton
import Hummingbird
import Logging
import ServiceLifecycle

// The parts of a baton-worker process as services of one ServiceGroup. The group starts them in
// the order `BatonWorker.services` lists them and, on SIGTERM/SIGINT, shuts them down one at a
// time in the reverse order, each after the one before it has returned: the worker first (claims
// nothing more, commits the batch in hand), then the schedules, then the outbox relay (deliveries
// in flight finish), then the metrics sampler, and the metrics endpoint last (`/readyz` says
// "draining" meanwhile). None installs a signal handler: `ProcessSignals` does, once per process.

/// The worker loop: on graceful shutdown it claims nothing more and commits what it holds.
struct WorkerService: Service {
    let worker: Worker
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            Task { await worker.stop() }
        }
    }
}

/// The outbox relay: on graceful shutdown it claims nothing more; deliveries in flight finish.
struct RelayService: Service {
    let relay: OutboxRelay
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await relay.run()
        } onGracefulShutdown: {
            Task { await relay.stop() }
        }
    }
}

/// The schedule runner: on graceful shutdown it stops after the run in progress.
struct ScheduleService: Service {
    let schedules: ScheduleRunner
    func run() async {
        await withGracefulShutdownHandler {
            await schedules.run()
        } onGracefulShutdown: {
            Task { await schedules.stop() }
        }
    }
}

/// `--until-idle`: schedules due now, then the steps due now, then the notifications they produced;
/// then the group shuts down. A stop signal stops all three where they are.
struct UntilIdleService: Service {
    let worker: Worker?
    let relay: OutboxRelay?
    let schedules: ScheduleRunner?
    func run() async throws {
        try await withGracefulShutdownHandler {
            await schedules?.runDue()
            try await worker?.run()
            try await relay?.run()
        } onGracefulShutdown: {
            Task {
                await worker?.stop()
                await relay?.stop()
                await schedules?.stop()
            }
        }
    }
}

/// The database-derived gauges, sampled until graceful shutdown.
struct SamplerService: Service {
    let sampler: MetricsSampler
    func run() async {
        await cancelWhenGracefulShutdown { await sampler.run() }
    }
}

/// `/metrics`, `/healthz`, `/readyz` on `--metrics-port`. An endpoint that cannot start (the port
/// is taken) is logged and the worker runs on without it, as it always has.
struct MetricsEndpointService<App: ApplicationProtocol>: Service {
    let app: App
    let logger: Logger
    func run() async {
        do {
            try await app.run()
        } catch {
            logger.error("metrics endpoint failed", metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
        }
    }
}

/// SIGHUP: reloads what the process caches from the database (the channels), without dropping
/// work. Runs until graceful shutdown; the signals are trapped from the process's start.
struct ReloadService: Service {
    let hangups: ProcessSignals
    let reload: @Sendable () async -> Void
    func run() async {
        await cancelWhenGracefulShutdown {
            for await _ in hangups.hangups { await reload() }
        }
    }
}
