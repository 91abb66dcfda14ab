import BatonCore
import Foundation
import Postgres

/// What `advanceLocked` did with a batch.
public struct LockedCommit: Sendable {
    /// Instances whose advance was committed.
    public var committed: Set<Int> = []
    /// The committed advances, as the Machine made them under the locks.
    public var advances: [Advance] = []
    /// Instances this worker no longer holds (lease taken over, cancelled, resumed) or whose row
    /// another session has locked: nothing was written for them.
    public var lost: [Int] = []
    /// Instances whose contact another session had locked: released, due again after a short pause.
    public var contended: [Int] = []
    /// Instances whose contact could not be read: the caller fails them one by one.
    public var unreadable: [UnreadableInstance] = []
}

extension Store {
    /// Locks, in id order, the rows of a batch that this worker still holds (fence, state and lease
    /// owner as the claim left them). SKIP LOCKED, retried briefly (`lockPatiently`): a row another
    /// session keeps holding (an admin's open transaction) is left out and left alone; its lease
    /// runs out and it is claimed again later.
    static let lockHeldInstances = """
        SELECT i.id, i.contact FROM workflow_instances i
        JOIN unnest($1::bigint[], $2::bigint[]) AS l(id, fence) ON i.id = l.id AND i.fence = l.fence
        WHERE i.state = 'running' AND i.lease_owner = $3
        ORDER BY i.id FOR NO KEY UPDATE OF i SKIP LOCKED
        """
    /// Locks the batch's contacts in id order for the rest of the transaction, so no other batch,
    /// reassign or enrollment changes them between this read and the commit. SKIP LOCKED, retried
    /// briefly: a contact another session keeps holding holds back only its own instances (put
    /// back, due again shortly).
    static let lockContacts = """
        SELECT id FROM contacts WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
        """
    /// The locked instances' contacts and unconsumed signals, read after the locks were taken: a
    /// signal committed before then is seen here; a later one waits for this transaction on the
    /// contact row (see `lockContactForSignal`), then finds the instance as committed and wakes it.
    static let selectLockedContacts = """
        SELECT i.id, c.id AS contact, c.attributes, c.owner, c.backup_owner, c.team, c.previous_owner, c.lifecycle_stage,
            (SELECT co.owner FROM contacts co WHERE co.id = \(Self.companyKey("c")) AND c.id NOT LIKE 'company:%') AS company_owner,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
                                                          'at', extract(epoch FROM s.received_at)) ORDER BY s.id), '[]')
             FROM signals s
             WHERE s.contact = i.contact AND s.received_at >= i.created_at
               AND NOT (s.id = ANY (i.used_signals))) AS signals
        FROM workflow_instances i JOIN contacts c ON c.id = i.contact
        WHERE i.id = ANY($1::bigint[])
        """

    /// Advances and commits a claimed batch in one transaction, with everything the Machine reads
    /// locked first, so what it decides still holds when it commits:
    ///
    /// 1. the instance rows still held (fence), then their contacts (both in id order, SKIP LOCKED
    ///    with a few short retries, so a lock held for a moment elsewhere costs a moment);
    /// 2. contacts and pending signals re-read under those locks (an owner changed by a reassign or
    ///    by another workflow of the same contact since the claim is seen; so is a new signal);
    /// 3. `run` once to count round-robin demand; if the batch gives live work to members with a
    ///    capacity (`limited`), those members are locked in id order, their open work counted, and
    ///    `run` goes again with those loads, so no member ends above capacity;
    /// 4. the round-robin positions reserved (routing_cursors rows, team order), `run` with them,
    ///    and the advances committed (see `commitAdvances`).
    ///
    /// 5. when a company's owner changed, its inheriting records follow (`followCompanyOwner`);
    /// 6. when a handoff changed a record's stage, its stage history row is written and the
    ///    workflows that start on that change are started (`recordStageChanges`).
    ///
    /// Lock order: workflow_instances, contacts, members (advisory locks), routing_cursors (then, only for a company
    /// whose owner changed, its records' contacts rows, waiting: a deadlock with another batch is
    /// detected by the server and the transaction retried). A worker that dies at
    /// any point rolls all of it back, reserved positions included. `run` gets the instances in
    /// claim order, open counts of limited members, and a rotation; it must be pure (it runs
    /// two or three times, and again if the transaction is retried after a deadlock). A lock
    /// timeout is not retried here: the worker puts the batch back rather than spend its lease.
    public func advanceLocked(
        _ claimed: [InstanceSnapshot], worker: String, now: Date, limited: Set<String>, contendedDelay: Duration,
        run: ([InstanceSnapshot], [String: Int], inout Rotation) -> [Advance]
    ) async throws -> LockedCommit {
        guard !claimed.isEmpty else { return LockedCommit() }
        typealias A = PostgresArrayLiteral
        return try await pool.transaction(lockTimeouts: false) { connection in
            var outcome = LockedCommit()
            var contactOf: [Int: String] = [:]
            _ = try await Self.lockPatiently(claimed) { instances in
                var locked: Set<Int> = []
                for row in try await connection.query(
                    Self.lockHeldInstances, [A(instances.map(\.id)), A(instances.map(\.fence)), worker])
                {
                    let id: Int = try row.decode("id")
                    contactOf[id] = try row.decode("contact")
                    locked.insert(id)
                }
                return claimed.filter { locked.contains($0.id) }
            }
            outcome.lost = claimed.map(\.id).filter { contactOf[$0] == nil }
            let lockedContacts = Set(try await Self.lockPatiently(Set(contactOf.values).sorted()) { contacts in
                try await connection.query(Self.lockContacts, [contacts]).map { try $0.decode(String.self, at: 0) }
            })
            let contended = claimed.filter { contactOf[$0.id].map { !lockedContacts.contains($0) } ?? false }
            outcome.contended = contended.map(\.id)
            try await self.release(contended.map { (id: $0.id, fence: $0.fence) }, worker: worker, after: contendedDelay,
                                   on: connection)

            let runnable = claimed.filter { contactOf[$0.id].map(lockedContacts.contains) ?? false }
            var fresh: [Int: (ContactSnapshot, [PendingSignal])] = [:]
            var unreadable: [Int: String] = [:]
            for row in try await connection.query(Self.selectLockedContacts, [A(runnable.map(\.id))]) {
                let id: Int = try row.decode("id")
                do { fresh[id] = try Self.contactAndSignals(row) } catch { unreadable[id] = "\(error)" }
            }
            var instances: [InstanceSnapshot] = []
            for var instance in runnable {
                if let entry = fresh[instance.id] {
                    instance.contact = entry.0
                    instance.pendingSignals = entry.1
                    instances.append(instance)
                } else {
                    outcome.unreadable.append(UnreadableInstance(
                        id: instance.id, fence: instance.fence, workflow: instance.workflow, version: instance.version,
                        step: instance.step, attempt: instance.attempt, priorState: instance.state,
                        error: unreadable[instance.id] ?? "instance \(instance.id) vanished while held"))
                }
            }
            guard !instances.isEmpty else { return outcome }

            var loads: [String: Int] = [:]
            var counting = Rotation()
            var advances = run(instances, loads, &counting)
            if advances.contains(where: { Self.givesWork($0, toAnyOf: limited) }) {
                let members = limited.sorted()
                try await connection.query(Self.lockMembers, [members])
                for row in try await connection.query(Self.memberLoads, [members]) {
                    loads[try row.decode("id")] = try row.decode(Int.self, "open")
                }
                counting = Rotation()
                advances = run(instances, loads, &counting)
            }
            if !counting.used.isEmpty {
                var reserved = Rotation(starts: try await self.reserveRotation(counting.used, on: connection))
                advances = run(instances, loads, &reserved)
            }
            outcome.committed = try await self.commit(advances, worker: worker, now: now, on: connection)
            outcome.advances = advances.filter { outcome.committed.contains($0.instance) }
            // Account inheritance: a company whose owner changed takes its inheriting records along,
            // in this transaction (their rows are locked after the batch's; see followCompanyOwner).
            let companyChanges = outcome.advances.flatMap { advance in
                advance.ownerChanges.filter { $0.contact.hasPrefix("company:") }
                    .map { (company: $0.contact, from: $0.from, to: $0.to, instance: Optional(advance.instance)) }
            }
            if !companyChanges.isEmpty { try await self.followCompanyOwners(companyChanges, on: connection) }
            // A handoff's stage change: its history row, and the workflows whose starts_on it matches
            // start, in this transaction (the records' rows are locked by the batch already).
            let stageChanges = outcome.advances.flatMap { advance in advance.stageChanges.map { ($0, Optional(advance.instance)) } }
            if !stageChanges.isEmpty { _ = try await self.recordStageChanges(stageChanges, now: now, on: connection) }
            return outcome
        }
    }

    /// Locks `wanted` with `lock` (a SKIP LOCKED statement returning what it locked), then tries
    /// what it skipped a few more times over about half a second: rows are mostly held only for a
    /// moment (another worker's claim statement that looked at them, a signal, an enrollment).
    /// Never waits on a lock, so it cannot deadlock; what stays held elsewhere is left out.
    static func lockPatiently<T: Hashable>(_ wanted: [T], _ lock: ([T]) async throws -> [T]) async throws -> [T] {
        guard !wanted.isEmpty else { return [] }
        var locked = Set(try await lock(wanted))
        var attempt = 0
        while locked.count < wanted.count && attempt < 6 {
            attempt += 1
            try await Task.sleep(for: lockRetryBackoff.delay(attempt: attempt))
            locked.formUnion(try await lock(wanted.filter { !locked.contains($0) }))
        }
        return wanted.filter(locked.contains)
    }

    /// Pauses between tries of `lockPatiently`: 10 ms doubling, at most 200 ms.
    static let lockRetryBackoff = Backoff(base: .milliseconds(10), cap: .milliseconds(200))

    /// True when `advance` leaves its contact, still live, with a member of `limited` it did not have.
    static func givesWork(_ advance: Advance, toAnyOf limited: Set<String>) -> Bool {
        guard !advance.state.isFinal, let owner = advance.contact?.owner, limited.contains(owner) else { return false }
        return advance.ownerChanges.contains { $0.to == owner }
    }
}
