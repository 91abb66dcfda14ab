import Foundation

/// A value computed from the database that many readers share: the console's counts (every viewer)
/// and a worker's count of members' open work (every batch).
///
/// While it is cheap to compute (under `expensive`), a value younger than `maximumAge` is served
/// and an older one is recomputed while viewers wait (viewers arriving meanwhile wait for the same
/// computation). Once one computation took longer, the database is spared: a value is kept for ten
/// times what it cost to compute (at least `maximumAge`), and after that viewers get the kept value
/// at once while a fresh one is computed in the background, so no viewer waits for a slow query
/// and the database spends at most a tenth of its time on it however many people watch. A value
/// older than `staleLimit` is never served: viewers wait for a fresh one.
public actor Refreshing<Value: Sendable> {
    private let compute: @Sendable () async throws -> Value
    private let maximumAge: Duration
    private let expensive: Duration
    private let staleLimit: Duration
    private var kept: (value: Value, at: ContinuousClock.Instant, cost: Duration)?
    private var computing: Task<Value, any Error>?

    public init(maximumAge: Duration, expensive: Duration = .milliseconds(250), staleLimit: Duration = .seconds(600),
         _ compute: @escaping @Sendable () async throws -> Value)
    {
        self.compute = compute
        self.maximumAge = maximumAge
        self.expensive = expensive
        self.staleLimit = staleLimit
    }

    public func current() async throws -> Value {
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

    /// Changes the kept value in place until the next computation replaces it (a reader that knows
    /// what its own writes did, such as a worker's own assignments).
    public func adjust(_ change: @Sendable (inout Value) -> Void) {
        guard var kept else { return }
        change(&kept.value)
        self.kept = kept
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
