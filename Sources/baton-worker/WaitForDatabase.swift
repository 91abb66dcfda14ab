import Baton
import Logging
import Postgres

/// The database could not be reached within the time allowed.
struct DatabaseUnreachable: Error, CustomStringConvertible {
    let description: String
}

/// Connects once before the worker starts. A database that is not there yet (a host booting, a
/// failover) is tried again with backoff and jitter, one log line per attempt; with `giveUpAfter`
/// (`--until-idle`), it throws `DatabaseUnreachable` once that much time has passed, so a cron
/// run ends with exit 1 instead of retrying forever.
func waitForDatabase(_ config: ConnectionConfig, giveUpAfter: Duration?, logger: Logger) async throws {
    let start = ContinuousClock.now
    let backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
    var attempts = 0
    while true {
        do {
            let connection = try await Connection.connect(config, logger: logger)
            await connection.close()
            if attempts > 0 { logger.info("database reachable", metadata: ["database": "\(config.endpoint)"]) }
            return
        } catch {
            let elapsed = ContinuousClock.now - start
            attempts += 1
            var delay = backoff.delay(attempt: attempts)
            if let giveUpAfter {
                guard elapsed < giveUpAfter else {
                    throw DatabaseUnreachable(description: "cannot reach the database at \(config.endpoint) "
                                              + "within \(giveUpAfter) (--connect-timeout): \(error)")
                }
                delay = min(delay, giveUpAfter - elapsed)
            }
            logger.warning("database not reachable; retrying", metadata: [
                "database": "\(config.endpoint)", "attempt": "\(attempts)", "retry_in": "\(delay)", "error": "\(error)",
            ])
            try await Task.sleep(for: delay)
        }
    }
}
