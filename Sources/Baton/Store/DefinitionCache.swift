import BatonCore
import Foundation
import Postgres

/// Decoded workflow definitions by name and version. A stored version never changes (a changed
/// file becomes a new version), so a process decodes each version once. It also remembers the
/// newest version it has seen of each workflow: enrollment starts on that one without asking, and
/// its statement refuses (answers nothing) when a newer one exists. `@unchecked Sendable`:
/// `entries` and `newestVersions` are only touched under `lock`.
final class DefinitionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: StoredWorkflow] = [:]
    private var newestVersions: [String: Int] = [:]

    /// The newest version of `name` this process has seen, if it is still cached.
    func newest(_ name: String) -> StoredWorkflow? {
        lock.withLock { newestVersions[name].flatMap { entries["\($0) \(name)"] } }
    }

    func lookup(_ name: String, _ version: Int) -> StoredWorkflow? {
        lock.withLock { entries["\(version) \(name)"] }
    }

    func remember(_ stored: StoredWorkflow) {
        lock.withLock {
            if entries.count > 1_000 { entries.removeAll() }  // bounded; versions come from applied files
            entries["\(stored.version) \(stored.name)"] = stored
            if stored.version > newestVersions[stored.name] ?? 0 { newestVersions[stored.name] = stored.version }
        }
    }
}

extension Store {
    /// The newest version of workflow $1 (its number only: the definition comes from the cache).
    static let selectNewestVersion = "SELECT max(version) AS version FROM workflow_definitions WHERE name = $1"

    /// The newest version of `name` this process knows (no round trip), else the database's.
    /// Callers must check the version is still the newest where it matters (`enrollContacts` does).
    func cachedNewestWorkflow(_ name: String) async throws -> StoredWorkflow? {
        if let cached = definitionCache.newest(name) { return cached }
        return try await newestWorkflow(name)
    }

    /// The newest version of `name`, decoded once per process and version; nil when never applied.
    func newestWorkflow(_ name: String) async throws -> StoredWorkflow? {
        let newest = try await pool.withConnection { connection in
            try await connection.query(Self.selectNewestVersion, [name])[0].decode(Int?.self, "version")
        }
        guard let newest else { return nil }
        if let cached = definitionCache.lookup(name, newest) { return cached }
        guard let stored = try await workflow(name, version: newest) else { return nil }
        definitionCache.remember(stored)
        return stored
    }
}
