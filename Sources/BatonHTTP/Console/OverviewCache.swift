import Baton
import Foundation

/// Keeps the overview and the change stamp for a short time, so however many people watch the
/// console the database computes each at most once per interval (2 s and 1 s).
actor OverviewCache {
    private var overview: (Overview, ContinuousClock.Instant)?
    private var stamp: (String, ContinuousClock.Instant)?
    private var computing: Task<Overview, any Error>?
    let store: Store

    init(store: Store) { self.store = store }

    func current() async throws -> Overview {
        if let (value, at) = overview, ContinuousClock.now - at < .seconds(2) { return value }
        // Viewers arriving while it is computed wait for the same computation.
        if let computing { return try await computing.value }
        let task = Task { [store] in try await store.overview() }
        computing = task
        defer { computing = nil }
        let value = try await task.value
        overview = (value, ContinuousClock.now)
        return value
    }

    func changeStamp() async throws -> String {
        if let (value, at) = stamp, ContinuousClock.now - at < .seconds(1) { return value }
        let value = try await store.changeStamp()
        stamp = (value, ContinuousClock.now)
        return value
    }
}
