import Baton
import BatonCore
import BatonTesting
import Foundation
import Postgres
import Testing

/// `resume` brings back live and failed instances only; an ended one is refused with one clear line.
@Suite("Resume refuses ended instances")
struct ResumeTests {
    @Test func aCancelledInstanceIsNotResumedEvenWhenItsContactHasANewOne() async throws {
        let engine = try await Engine.make("resumecancel", teams: AdminTests.teams, workflows: [AdminTests.queued])
        defer { Task { await engine.close() } }
        let old = try await engine.start("queued", "C-1")
        try await engine.store.cancel(instance: old, by: "tester", reason: nil)
        // Resuming it alone would make a second live instance for the contact later; refused now.
        let alone = try await #require(throws: BatonError.self) {
            try await engine.store.resume(instance: old, at: "wait", by: "tester")
        }
        #expect(alone.description == "instance \(old) is cancelled; only live or failed instances can be resumed: start a new one instead")
        _ = try await engine.start("queued", "C-1")
        // With a new live instance, it used to fail on the unique index (exit 2); now the same line.
        await #expect(throws: BatonError.self) { try await engine.store.resume(instance: old, at: "wait", by: "tester") }
        #expect(try await engine.state(old).state == "cancelled")
    }
}
