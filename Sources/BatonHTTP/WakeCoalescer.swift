import Baton
import Logging

/// Coalesces the worker wake-ups of many small concurrent starts into one NOTIFY per workflow every
/// few milliseconds. A NOTIFY in each start's own transaction would serialise those commits (the
/// notification queue is locked until commit), capping single starts at one per WAL flush.
actor WakeCoalescer {
    private let store: Store
    private let delay: Duration
    private var pending: Set<String> = []
    private var scheduled = false

    init(store: Store, delay: Duration = .milliseconds(5)) {
        self.store = store
        self.delay = delay
    }

    /// Asks for workers to be woken for `workflow` soon (at most `delay` from now).
    func poke(_ workflow: String) {
        pending.insert(workflow)
        guard !scheduled else { return }
        scheduled = true
        Task { await self.flush() }
    }

    private func flush() async {
        try? await Task.sleep(for: delay)
        let workflows = pending
        pending = []
        scheduled = false
        for workflow in workflows {
            // A lost wake-up costs at most the workers' poll interval: the start itself is committed.
            try? await store.wakeWorkers(workflow)
        }
    }
}
