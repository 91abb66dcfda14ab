import Baton

/// Gathers concurrent single starts (`POST /v1/instances` without an Idempotency-Key) into one
/// statement per workflow: group commit. While one batch of a workflow is in the database, the
/// starts that arrive wait and then go together, so a lone request goes at once and 32 concurrent
/// clients share a commit instead of queueing for one WAL flush each. Each request still gets its
/// own answer: its instance, `created` only for the first request of a contact.
///
/// A batch the store refuses as a whole (one request's record of the wrong kind, a duplicate a
/// workflow refuses, …) is run again request by request, so each request gets its own error and
/// the others their instances, as if they had come alone.
actor StartCoalescer {
    private struct Waiting {
        var request: EnrollmentRequest
        var continuation: CheckedContinuation<Enrollment, any Error>
    }

    private let store: Store
    private let maxBatch: Int
    private var queued: [String: [Waiting]] = [:]
    private var running: Set<String> = []

    init(store: Store, maxBatch: Int = 500) {
        self.store = store
        self.maxBatch = maxBatch
    }

    /// Starts `request` in the newest version of `workflow` (see `Store.enroll`), together with the
    /// starts of that workflow waiting beside it.
    func enroll(_ request: EnrollmentRequest, in workflow: String) async throws -> Enrollment {
        try await withCheckedThrowingContinuation { continuation in
            queued[workflow, default: []].append(Waiting(request: request, continuation: continuation))
            if running.insert(workflow).inserted {
                Task { await self.drain(workflow) }
            }
        }
    }

    private func drain(_ workflow: String) async {
        while let waiting = queued[workflow], !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatch))
            queued[workflow] = Array(waiting.dropFirst(batch.count))
            // Requests arriving meanwhile queue up for the next round.
            await run(batch, workflow)
        }
        queued[workflow] = nil
        running.remove(workflow)
    }

    private func run(_ batch: [Waiting], _ workflow: String) async {
        if batch.count > 1, let enrollments = try? await store.enrollEach(batch.map(\.request), in: workflow, notify: false),
           enrollments.count == batch.count
        {
            for (waiting, enrollment) in zip(batch, enrollments) { waiting.continuation.resume(returning: enrollment) }
            return
        }
        for waiting in batch {
            do {
                let enrollment = try await store.enroll([waiting.request], in: workflow, notify: false)[0]
                waiting.continuation.resume(returning: enrollment)
            } catch {
                waiting.continuation.resume(throwing: error)
            }
        }
    }
}
