import Foundation

/// A value the console computes from the database and every viewer shares.
///
/// While it is cheap to compute (under `expensive`), a value younger than `maximumAge` is served
/// and an older one is recomputed while viewers wait (viewers arriving meanwhile wait for the same
/// computation). Once one computation took longer, the database is spared: a value is kept for ten
/// times what it cost to compute (at least `maximumAge`), and after that viewers get the kept value
/// at once while a fresh one is computed in the background, so no viewer waits for a slow query
/// and the database spends at most a tenth of its time on it however many people watch. A value
/// older than `staleLimit` is never served: viewers wait for a fresh one.
actor Refreshing<Value: Sendable> {
    private let compute: @Sendable () async throws -> Value
    private let maximumAge: Duration
    private let expensive: Duration
    private let staleLimit: Duration
    private var kept: (value: Value, at: ContinuousClock.Instant, cost: Duration)?
    private var computing: Task<Value, any Error>?

    init(maximumAge: Duration, expensive: Duration = .milliseconds(250), staleLimit: Duration = .seconds(600),
         _ compute: @escaping @Sendable () async throws -> Value)
    {
        self.compute = compute
        self.maximumAge = maximumAge
        self.expensive = expensive
        self.staleLimit = staleLimit
    }

    func current() async throws -> Value {
        if let kept {
            let age = ContinuousClock.now - kept.at
            let slow = kept.cost >= expensive
            let keepFor = slow ? max(maximumAge, kept.cost * 10) : maximumAge
            if age < keepFor { return kept.value }
            if slow && age < staleLimit {
                if computing == nil { _ = start() }
                return kept.value
            }
        }
        if let computing { return try await computing.value }
        return try await start().value
    }

    private func start() -> Task<Value, any Error> {
        let task = Task { [compute] in
            let began = ContinuousClock.now
            do {
                let value = try await compute()
                self.finished(value, began: began)
                return value
            } catch {
                self.failed()
                throw error
            }
        }
        computing = task
        return task
    }

    private func finished(_ value: Value, began: ContinuousClock.Instant) {
        kept = (value, began, ContinuousClock.now - began)
        computing = nil
    }

    private func failed() { computing = nil }
}
