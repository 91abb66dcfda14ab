import Logging
import Postgres

/// Keeps a LISTEN connection open on `channels` and wakes `wake` on every NOTIFY, for the worker's
/// claim loops (`baton_wake`) and the outbox relay (`baton_outbox`). After each (re)subscribe the
/// waiters are woken once: a NOTIFY sent while the listener was disconnected is lost, but the work
/// it announced is in its table, and the next look finds it. Polling goes on meanwhile.
///
/// LISTEN needs a direct connection to the server: `config` is the `--listen-url` one when the
/// pool goes through a transaction pooler.
struct WakeListener: Sendable {
    let config: ConnectionConfig
    let channels: [String]
    let logger: Logger

    /// Pauses between reconnects.
    static let backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))

    /// Listens until the task is cancelled.
    func run(waking wake: WakeSignal) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await Connection.connect(config, logger: logger)
                let notifications = try await connection.notifications(listeningTo: channels)
                if failures > 0 { BatonMetrics.listenReconnect() }
                failures = 0
                await wake.signal()
                do {
                    for try await _ in notifications { await wake.signal() }
                } catch {
                    logger.notice("wake-up listener lost its connection; reconnecting", metadata: [
                        "channels": "\(channels.joined(separator: ","))", "error": "\(error)",
                    ])
                }
                await connection.close()
            } catch {
                logger.debug("wake-up listener cannot connect; polling meanwhile", metadata: ["error": "\(error)"])
            }
            failures += 1
            try? await Task.sleep(for: Self.backoff.delay(attempt: failures))
        }
    }
}

/// Wakes idle loops when a NOTIFY arrives or a stop is requested. A signal that comes while no
/// loop is waiting is kept, so a loop about to wait returns at once instead of missing it.
actor WakeSignal {
    private var waiters: [UInt64: (continuation: CheckedContinuation<Void, Never>, timer: Task<Void, Never>)] = [:]
    private var nextID: UInt64 = 0
    private var pending = false

    func signal() {
        if waiters.isEmpty {
            pending = true
            return
        }
        let all = waiters
        waiters.removeAll()
        for waiter in all.values {
            // The timer goes with its waiter: with an hour-long poll, a timer left sleeping per
            // wake-up would pile up.
            waiter.timer.cancel()
            waiter.continuation.resume()
        }
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
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self.fire(id) }
            }
            waiters[id] = (continuation, timer)
        }
    }

    private func fire(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.continuation.resume()
    }
}
