/// Tests that start a private cluster of their own with `scripts/pg` take turns. Each new cluster
/// picks the first free port from the same starting point, so a cluster started while another test
/// has just stopped its own can take that port, and the stopped cluster's URL then reaches a live
/// server (`PoolTests.poolRecoversAfterTheServerRestarts` saw its "stopped" server answer).
actor PrivateClusterTurns {
    static let shared = PrivateClusterTurns()

    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` when no other private-cluster test is running.
    nonisolated func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}
