import BatonCore
import Foundation
import Postgres

/// The result of enrolling one contact.
public struct Enrollment: Sendable, Equatable {
    public var contact: String
    public var instance: Int
    /// False when the contact already had a live instance of the workflow (that one is returned).
    public var created: Bool
    /// The new instance as its start stored it (nil when `created` is false): what a caller would
    /// otherwise read back.
    public var summary: InstanceSummary?

    public init(contact: String, instance: Int, created: Bool, summary: InstanceSummary? = nil) {
        self.contact = contact
        self.instance = instance
        self.created = created
        self.summary = summary
    }
}

/// A contact to enroll: its id and attributes.
public struct EnrollmentRequest: Sendable, Equatable {
    public var contact: String
    public var attributes: [String: String]
    public init(contact: String, attributes: [String: String] = [:]) {
        self.contact = contact
        self.attributes = attributes
    }
}

extension Store {
    /// Creates or updates the contacts (new attributes merged over old ones) and starts an instance
    /// of $1 v$2 at step $3 for each contact that has no live one. The partial unique index
    /// `workflow_instances_one_live` makes a racing second start a no-op, never a duplicate;
    /// the existing instance is returned instead (looked up per contact through that index: a
    /// join would let the prepared statement's generic plan read every live instance of the
    /// workflow on each start); a new one comes back with the columns of its
    /// summary as stored. With $7, nothing happens unless $2 is still the newest version (a process
    /// that cached the version it saw newest learns of a newer one from the empty answer). Wakes
    /// idle workers on commit when $6 is true (a
    /// caller with many small concurrent starts passes false and coalesces its wake-ups: NOTIFY
    /// serialises committing transactions, so one per start would cap them at one per WAL flush).
    static let enrollContacts = PreparedStatement(name: "baton_enroll_v3", sql: """
        WITH current AS (
            SELECT NOT $7 OR max(version) = $2 AS ok FROM workflow_definitions WHERE name = $1
        ), input AS (
            SELECT * FROM unnest($4::text[], $5::jsonb[]) WITH ORDINALITY AS x(contact, attributes, n)
            WHERE (SELECT ok FROM current)
        ), upserted AS (
            INSERT INTO contacts (id, attributes)
            SELECT contact, attributes FROM input ORDER BY contact
            ON CONFLICT (id) DO UPDATE SET attributes = contacts.attributes || EXCLUDED.attributes, updated_at = now()
            RETURNING id, owner, team
        ), started AS (
            INSERT INTO workflow_instances (workflow, version, contact, state, step, run_at)
            SELECT $1, $2, u.id, 'ready', $3, now() FROM upserted u
            ON CONFLICT (workflow, contact) WHERE state NOT IN ('completed', 'cancelled') DO NOTHING
            RETURNING id, contact, state, step, priority, run_at, updated_at
        ), woken AS (
            SELECT pg_notify('baton_wake', $1) WHERE $6 AND EXISTS (SELECT 1 FROM started)
        )
        SELECT s.contact, s.id, true AS created, s.state, s.step, s.priority, s.run_at, s.updated_at, u.owner, u.team
        FROM started s JOIN upserted u ON u.id = s.contact
        UNION ALL
        SELECT x.contact, live.id, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM input x CROSS JOIN LATERAL (
            SELECT i.id FROM workflow_instances i
            WHERE i.workflow = $1 AND i.contact = x.contact AND i.state NOT IN ('completed', 'cancelled')
            LIMIT 1
        ) live
        WHERE NOT EXISTS (SELECT 1 FROM started s WHERE s.contact = x.contact)
          AND (SELECT count(*) FROM woken) >= 0
        """)

    /// Enrolls contacts in the newest version of `workflow`, in one transaction and, while this
    /// process knows that version, one round trip. Throws `BatonError.notFound` when the workflow
    /// has never been applied. With `summaries` false (bulk callers, which report ids only) a new
    /// instance's summary is not decoded: ten thousand rows' timestamps are not parsed for nothing.
    public func enroll(_ requests: [EnrollmentRequest], in workflow: String, notify: Bool = true, summaries: Bool = true)
        async throws -> [Enrollment]
    {
        try await enrollBatch(requests, in: workflow, notify: notify, summaries: summaries).enrollments
    }

    /// `enroll`, answering one enrollment per request in the requests' order (`enroll` answers one
    /// per contact): a contact named twice gets its instance twice, `created` only the first time.
    /// For callers that gather unrelated requests into one statement (concurrent single starts).
    public func enrollEach(_ requests: [EnrollmentRequest], in workflow: String, notify: Bool = true) async throws -> [Enrollment] {
        let (enrollments, keys) = try await enrollBatch(requests, in: workflow, notify: notify, summaries: true)
        let byContact = Dictionary(enrollments.map { ($0.contact, $0) }, uniquingKeysWith: { a, _ in a })
        var answered = Set<String>()
        return try keys.map { key in
            guard var enrollment = byContact[key] else { throw BatonError.conflict("could not enroll \(key); try again") }
            if !answered.insert(key).inserted {
                enrollment.created = false
                enrollment.summary = nil
            }
            return enrollment
        }
    }

    private func enrollBatch(_ requests: [EnrollmentRequest], in workflow: String, notify: Bool, summaries: Bool)
        async throws -> (enrollments: [Enrollment], keys: [String])
    {
        guard var stored = try await cachedNewestWorkflow(workflow) else { throw Self.unknownWorkflow(workflow) }
        guard !requests.isEmpty else { return ([], []) }
        // A start racing ours may commit after our statement's snapshot: then neither branch sees
        // that contact's instance. Running the statement again sees it. An empty answer also means
        // a newer version was applied since this process looked: then the next round uses it.
        for _ in 0..<5 {
            let (order, attributes, keys) = try await enrollmentBatch(requests, of: stored)
            if order.isEmpty { return ([], keys) }
            // One statement, so a whole transaction: safe to run again after a deadlock or a lock
            // wait that ran out behind a worker committing these contacts.
            let rows = try await pool.autocommit { connection in
                try await connection.query(
                    Self.enrollContacts,
                    [stored.name, stored.version, stored.definition.start, order, PostgresArrayLiteral(attributes), notify, true])
            }
            if rows.isEmpty {
                guard let newest = try await newestWorkflow(workflow) else { throw Self.unknownWorkflow(workflow) }
                stored = newest
                continue
            }
            let found = try rows.map { row in
                let contact: String = try row.decode("contact")
                let id: Int = try row.decode("id")
                let created: Bool = try row.decode("created")
                let summary = created && summaries ? InstanceSummary(
                    id: String(id), workflow: stored.name, version: stored.version, contact: contact,
                    state: try row.decode("state"), step: try row.decode("step"), owner: try row.decode("owner"),
                    team: try row.decode("team"), priority: try row.decode("priority"), run_at: try row.decode("run_at"),
                    updated_at: try row.decode("updated_at")) : nil
                return Enrollment(contact: contact, instance: id, created: created, summary: summary)
            }
            if Set(found.map(\.contact)).count == order.count {
                let byContact = Dictionary(found.map { ($0.contact, $0) }, uniquingKeysWith: { a, _ in a })
                return (order.compactMap { byContact[$0] }, keys)
            }
        }
        throw BatonError.conflict("could not enroll: concurrent starts kept changing the instances; try again")
    }

    static func unknownWorkflow(_ workflow: String) -> BatonError {
        BatonError.notFound("unknown workflow \(workflow): apply it first with `batonctl workflows apply FILE`")
    }

    /// The contacts of `requests` as `stored` takes them: record ids checked against its subject
    /// kind, duplicates resolved by its `on_duplicate`, a contact listed twice enrolled once (the
    /// last attributes win); in first-seen order, with each one's attributes as JSON text, and each
    /// request's contact as it is stored (`keys`, in the requests' order).
    private func enrollmentBatch(_ requests: [EnrollmentRequest], of stored: StoredWorkflow) async throws
        -> (order: [String], attributes: [String], keys: [String])
    {
        // Records are named `KIND:ID` or by a contact's plain id; the workflow runs on one kind.
        let subject = stored.definition.subjectKind
        var requests = requests
        for index in requests.indices {
            guard let ref = RecordRef(parsing: requests[index].contact) else { continue }  // empty: the check below says so
            if ref.kind != subject {
                throw BatonError.invalid(
                    "workflow \(stored.name) runs on \(subject.rawValue) records (subject: \(subject.rawValue)); \(ref) is a "
                    + "\(ref.kind.rawValue)" + (subject == .contact ? "" : ": start it with --record \(subject.rawValue):ID"))
            }
            requests[index].contact = ref.storageKey
        }
        if let policy = stored.definition.onDuplicate, policy != .allow {
            requests = try await resolveDuplicates(requests, workflow: stored.definition, policy: policy)
        }
        var merged: [String: [String: String]] = [:]
        var order: [String] = []
        for request in requests {
            if merged[request.contact] == nil { order.append(request.contact) }
            merged[request.contact, default: [:]].merge(request.attributes) { _, new in new }
        }
        return (order, order.map { PostgresJSON(merged[$0]!).postgresText }, requests.map(\.contact))
    }

    /// Records of kind $1 (read from the id's prefix, see RecordRef), not merged away, whose
    /// attribute $2 (trimmed, lower case) is one of $3, other than the records $4 themselves: the
    /// existing records a new enrollment duplicates. `contacts_email` indexes the default key.
    static let selectDuplicates = """
        SELECT lower(btrim(attributes ->> $2)) AS key, min(id) AS id FROM contacts
        WHERE attributes ? $2 AND lower(btrim(attributes ->> $2)) = ANY($3::text[]) AND merged_into IS NULL
          AND CASE WHEN $1 = 'contact' THEN id NOT LIKE ALL (ARRAY['company:%', 'deal:%', 'conversation:%'])
                   ELSE id LIKE $1 || ':%' END
          AND NOT (id = ANY($4::text[]))
        GROUP BY 1
        """

    /// Applies `on_duplicate` to a batch: `refuse` throws naming the first duplicate; `merge` enrolls
    /// the existing record in place of each duplicate (its attributes merged in).
    func resolveDuplicates(_ requests: [EnrollmentRequest], workflow: WorkflowDefinition, policy: OnDuplicate) async throws
        -> [EnrollmentRequest]
    {
        let key = workflow.duplicateKey ?? "email"
        func normalised(_ value: String?) -> String? {
            guard let value = value?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased(), !value.isEmpty else { return nil }
            return value
        }
        let keys = Set(requests.compactMap { normalised($0.attributes[key]) })
        guard !keys.isEmpty else { return requests }
        let rows = try await pool.withConnection { connection in
            try await connection.query(Self.selectDuplicates, [
                workflow.subjectKind.rawValue, key, PostgresArrayLiteral(keys.sorted()), PostgresArrayLiteral(requests.map(\.contact)),
            ])
        }
        var existing: [String: String] = [:]
        for row in rows { existing[try row.decode("key")] = try row.decode("id") }
        guard !existing.isEmpty else { return requests }
        return try requests.map { request in
            guard let value = normalised(request.attributes[key]), let other = existing[value] else { return request }
            let new = RecordRef(storageKey: request.contact), old = RecordRef(storageKey: other)
            if policy == .refuse {
                throw BatonError.conflict(
                    "\(new) has the same \(key) as \(old); workflow \(workflow.name) refuses duplicates (on_duplicate: refuse): "
                    + "start \(old) instead, or merge them with `batonctl records merge \(old) \(new) --reason TEXT`")
            }
            return EnrollmentRequest(contact: other, attributes: request.attributes)
        }
    }

    /// Run first, in the signal's transaction: waits while a worker is committing a batch that holds
    /// this contact (it locks the contacts it advances; see `advanceLocked`). A signal must not be
    /// missed by an instance a worker is running right now, which may be about to commit a wait for
    /// this very event with its deadline as run_at: after this lock, `recordSignal` (a new statement,
    /// so a new snapshot) sees that commit and wakes the wait. A worker that comes second finds the
    /// contact locked, puts the instance back for a moment, and sees the signal when it runs again.
    static let lockContactForSignal = "SELECT id FROM contacts WHERE id = $1 FOR SHARE"

    /// Wakes idle workers: what `enrollContacts` does on commit when asked to.
    static let wakeWorkers = "SELECT pg_notify('baton_wake', $1)"

    /// Wakes idle workers for `workflow` (after starts made with `notify: false`).
    public func wakeWorkers(_ workflow: String) async throws {
        try await pool.withConnection { try await $0.query(Self.wakeWorkers, [workflow]) }
    }

    /// Records signal $2 for contact $1 and wakes that contact's instances waiting for it (their
    /// run_at becomes now, so the next claim sees the signal), then NOTIFYs idle workers. A wait is
    /// waiting for its own event and for its pause_on and resume_on events (`pause_events`).
    static let recordSignal = """
        WITH contact AS (
            SELECT id FROM contacts WHERE id = $1
        ), signal AS (
            INSERT INTO signals (contact, name, payload) SELECT id, $2, $3::jsonb FROM contact RETURNING id
        ), woken AS (
            UPDATE workflow_instances SET run_at = now(), updated_at = now()
            WHERE contact = $1 AND state = 'waiting' AND (wait_event = $2 OR $2 = ANY (pause_events))
              AND EXISTS (SELECT 1 FROM signal)
            RETURNING id
        ), notified AS (
            SELECT pg_notify('baton_wake', $2) WHERE EXISTS (SELECT 1 FROM woken)
        )
        SELECT (SELECT id FROM signal) AS signal, (SELECT count(*) FROM woken) AS woken,
               (SELECT count(*) FROM notified) AS notified
        """

    /// Records an external event for a contact; returns the signal id and how many waiting instances
    /// it woke. A payload with `lifecycle: STAGE` also moves the record's stage (see `sendSignal`).
    public func signal(_ name: String, contact: String, payload: String?) async throws -> (signal: Int, woken: Int) {
        let result = try await sendSignal(name, contact: contact, payload: payload)
        return (result.signal, result.woken)
    }
}

/// An error a user can fix: one line, exit status 1.
public enum BatonError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case invalid(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let m), .invalid(let m), .conflict(let m): return m
        }
    }
}
