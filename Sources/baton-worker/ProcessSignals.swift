import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The process's signals, trapped first thing in `run`, so none finds its default action (which
/// ends the process) at any point of the worker's life:
///
/// - SIGTERM / SIGINT before the services run: exit 0 at once (nothing is held yet, e.g. while
///   waiting for the database). While they run: `/readyz` says draining and the ServiceGroup shuts
///   the services down in order. A second one: exit 1 at once.
/// - SIGHUP: handed to `ReloadService` (`hangups`); before it runs, it waits in the sequence.
final class ProcessSignals: Sendable {
    /// SIGHUP, as it arrives.
    let hangups: UnixSignalsSequence
    private let stops: UnixSignalsSequence
    private let phase = Phase()

    private init(hangups: UnixSignalsSequence, stops: UnixSignalsSequence) {
        self.hangups = hangups
        self.stops = stops
    }

    /// Traps the signals (returns once they are registered).
    static func trap() async -> ProcessSignals {
        ProcessSignals(hangups: await UnixSignalsSequence(trapping: .sighup),
                       stops: await UnixSignalsSequence(trapping: .sigterm, .sigint))
    }

    /// From now on a stop signal drains `group` (and sets `draining`) instead of exiting.
    func running(_ group: ServiceGroup, draining: DrainFlag) { phase.set(group, draining) }

    /// Acts on stop signals for the rest of the process's life.
    func handleStops(logger: Logger) -> Task<Void, Never> {
        let (stops, phase) = (stops, phase)
        return Task {
            for await signal in stops {
                let (count, running) = phase.received()
                if count > 1 { Foundation.exit(1) }
                logger.info("stopping", metadata: ["signal": "\(signal)"])
                guard let (group, draining) = running else { Foundation.exit(0) }
                draining.set()
                await group.triggerGracefulShutdown()
            }
        }
    }

    /// The group to drain once it runs, and how many stop signals came. `@unchecked Sendable`:
    /// both fields are only touched under `lock`.
    private final class Phase: @unchecked Sendable {
        private let lock = NSLock()
        private var running: (ServiceGroup, DrainFlag)?
        private var count = 0
        func set(_ group: ServiceGroup, _ draining: DrainFlag) { lock.withLock { running = (group, draining) } }
        func received() -> (Int, (ServiceGroup, DrainFlag)?) {
            lock.withLock {
                count += 1
                return (count, running)
            }
        }
    }
}

/// Set once the worker starts stopping, so `/readyz` says so. `@unchecked Sendable`: under `lock`.
final class DrainFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
