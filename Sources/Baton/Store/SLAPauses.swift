import BatonCore
import Foundation
import Postgres

/// The pauses of an instance's current wait as the claim reads them: when the open one began and by
/// which event, and the paused time of those that ended (its deadline has moved by that already).
struct WaitPausesRow: Codable, Sendable {
    var open_at: Double?
    var open_event: String?
    var paused_s: Double
}

extension Store {
    /// SQL for the pauses of the current wait of instance row `alias` as one jsonb value
    /// (`WaitPausesRow`). A fixed fragment of statements, never a value. A wait is (instance, step,
    /// wait_started_at); a pause left open by a wait that ended some other way (an admin moved the
    /// instance) does not match the next wait.
    static func waitPauses(_ alias: String) -> String {
        """
        (SELECT jsonb_build_object(
                    'open_at', extract(epoch FROM max(p.started_at) FILTER (WHERE p.ended_at IS NULL)),
                    'open_event', max(p.pause_event) FILTER (WHERE p.ended_at IS NULL),
                    'paused_s', coalesce(sum(p.paused_s), 0))
         FROM sla_pauses p
         WHERE p.instance = \(alias).id AND p.step = \(alias).step AND p.wait_started_at = \(alias).wait_started_at)
        """
    }

    /// The `sla_pauses` writes of a batch of advances, as the arrays `commitAdvances` takes.
    struct PauseArrays {
        var instance: [Int] = [], step: [String] = [], waitStartedAt: [Date] = [], startedAt: [Date] = []
        var endedAt: [Date?] = [], pauseEvent: [String] = [], resumeEvent: [String?] = [], seconds: [Double?] = []
        var deadlineBefore: [Date] = [], deadlineAfter: [Date?] = [], existing: [Bool] = []

        mutating func append(_ pause: SLAPause, of instance: Int) {
            self.instance.append(instance); step.append(pause.step); waitStartedAt.append(pause.waitStartedAt)
            startedAt.append(pause.startedAt); endedAt.append(pause.endedAt); pauseEvent.append(pause.pauseEvent)
            resumeEvent.append(pause.resumeEvent); seconds.append(pause.seconds); deadlineBefore.append(pause.deadlineBefore)
            deadlineAfter.append(pause.deadlineAfter); existing.append(pause.existing)
        }

        typealias A = PostgresArrayLiteral
        /// Parameters $50 … $60 of `commitAdvances`.
        var parameters: [(any PostgresEncodable)?] {
            [A(instance), A(step), A(waitStartedAt), A(startedAt), A(endedAt), A(pauseEvent), A(resumeEvent), A(seconds),
             A(deadlineBefore), A(deadlineAfter), A(existing)]
        }
    }
}
