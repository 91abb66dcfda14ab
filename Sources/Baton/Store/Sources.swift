import BatonCore
import Foundation
import Postgres

/// One event from an inbound source, as the hooks decode it.
public struct InboundEvent: Sendable, Equatable {
    /// The event's id at the source (HubSpot's `eventId`): processed once.
    public var id: String
    /// `contact.creation`, `contact.propertyChange`, … (HubSpot), or the `event` of a generic webhook.
    public var type: String
    public var contact: String
    public var property: String?
    public var value: String?
    /// Attributes the event carries (a property change sets that property).
    public var attributes: [String: String]
    /// Who made the change at the source (HubSpot's `sourceId`/`changeSource`), for the history.
    public var actor: String?
    /// When the change happened at the source (HubSpot's `occurredAt`); nil: when it arrived.
    public var occurredAt: Date?

    public init(id: String, type: String, contact: String, property: String? = nil, value: String? = nil,
                attributes: [String: String] = [:], actor: String? = nil, occurredAt: Date? = nil) {
        self.id = id
        self.type = type
        self.contact = contact
        self.property = property
        self.value = value
        self.attributes = attributes
        self.actor = actor
        self.occurredAt = occurredAt
    }
}

/// What one inbound batch did.
public struct IngestReport: Sendable, Codable, Equatable {
    public var received: Int
    public var duplicates: Int
    public var started: Int
    public var signalled: Int
    public var owner_changed: Int
    public var ignored: Int
    /// Events that set a record's lifecycle stage (`stage: true`), changed or not.
    public var staged: Int = 0
    /// Events refused one by one (the rest of the batch is applied), each with its line in `errors`.
    public var rejected: Int = 0
    public var errors: [String] = []
}

extension Store {
    static let upsertSource = """
        INSERT INTO sources (name, kind, spec) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, spec = EXCLUDED.spec, updated_at = now()
        """
    static let selectSource = "SELECT spec FROM sources WHERE name = $1"
    static let selectWorkflowNames = "SELECT DISTINCT name FROM workflow_definitions"

    /// Records the batch's events that were not seen before; returns the new ones' ids. The
    /// primary key (source, event_id) makes a redelivered event a no-op, also under concurrency.
    static let recordInboundEvents = """
        INSERT INTO inbound_events (source, event_id, type, contact, action)
        SELECT $1, e, t, c, a FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(e, t, c, a)
        ON CONFLICT (source, event_id) DO NOTHING
        RETURNING event_id
        """
    /// A property change updates the contact's attributes (when the contact exists).
    static let mergeContactAttributes = """
        UPDATE contacts SET attributes = attributes || $2::jsonb, updated_at = now() WHERE id = $1
        """
    /// The member whose HubSpot owner id is $1, and the contact's current owner.
    static let resolveCRMOwner = """
        SELECT (SELECT id FROM members WHERE crm ->> 'hubspot' = $1 ORDER BY active DESC, id LIMIT 1) AS member,
               (SELECT owner FROM contacts WHERE id = $2) AS owner,
               (SELECT count(*) FROM contacts WHERE id = $2) AS known
        """

    /// Whether owner id $2, reported by HubSpot for contact $1 as changed at $3 (HubSpot's
    /// `occurredAt`; NULL: now), is Baton's own write-back echoing back: the id HubSpot holds as far
    /// as Baton knows, the id of Baton's latest write, or the late echo of an older write — an id
    /// Baton wrote before, in a change that occurred before Baton sent its latest write (give or
    /// take $4 seconds, HubSpot's clock running ahead of the database's). A person who sets an
    /// older owner again later is not an echo: that change occurs after Baton's latest send.
    static let isOwnWriteBack = """
        SELECT EXISTS (
            SELECT 1 FROM crm_owners s JOIN channels ch ON ch.name = s.channel AND ch.type = 'hubspot'
            WHERE s.contact = $1
              AND ($2 IN (s.crm_owner, s.sent_owner)
                   OR ($2 = ANY (s.sent_owners)
                       AND coalesce($3::timestamptz, now()) < s.sent_at + $4::float8 * interval '1 second'))) AS own
        """
    /// How far HubSpot's clock (an event's `occurredAt`) may run ahead of the database's and a late
    /// echo of Baton's older write still be recognised as one (see `isOwnWriteBack`).
    static let echoClockTolerance = 2.0
    /// HubSpot reported owner id $2 for contact $1: every HubSpot channel's write-back of that
    /// owner finds it there already and makes no call (no echo back to the CRM).
    static let recordCRMReportedOwner = """
        INSERT INTO crm_owners (channel, contact, crm_owner, origin) SELECT name, $1, $2, 'crm' FROM channels WHERE type = 'hubspot'
        ON CONFLICT (channel, contact) DO UPDATE SET crm_owner = EXCLUDED.crm_owner, origin = 'crm', updated_at = now()
        """

    /// The names of the stored workflows, for validating a sources file.
    public func workflowNames() async throws -> Set<String> {
        try await pool.withConnection { connection in
            Set(try await connection.query(Self.selectWorkflowNames).map { try $0.decode(String.self, at: 0) })
        }
    }

    /// Upserts a sources file's sources in one transaction; returns how many.
    public func applySources(_ file: SourcesFile) async throws -> Int {
        try await pool.transaction { connection in
            for source in file.sources {
                try await connection.query(Self.upsertSource, [source.name, source.kind.rawValue, PostgresJSON(source)])
            }
            return file.sources.count
        }
    }

    /// The source of that name, or nil.
    public func source(_ name: String) async throws -> Source? {
        try await pool.withConnection { connection in
            try await connection.query(Self.selectSource, [name]).first.map { try $0.decode(PostgresJSON<Source>.self, at: 0).value }
        }
    }

    /// Applies one inbound batch in one transaction: events seen before are skipped; each new one
    /// starts a workflow, records a signal, records an owner change made in the CRM, or sets the
    /// record's lifecycle stage, as the source maps it; events that map to nothing are counted and ignored. Nothing is stored when
    /// anything fails, so the sender's retry finds the batch new.
    public func ingest(_ events: [InboundEvent], from source: Source) async throws -> IngestReport {
        var report = IngestReport(received: events.count, duplicates: 0, started: 0, signalled: 0, owner_changed: 0, ignored: 0)
        // A batch naming one event twice: the first counts.
        var seen = Set<String>()
        let unique = events.filter { seen.insert($0.id).inserted }
        report.duplicates = events.count - unique.count
        let mappings = unique.map { source.mapping(type: $0.type, property: $0.property, value: $0.value) }
        // Workflows are read before the transaction: a version applied meanwhile starts on the next batch.
        var workflows: [String: StoredWorkflow] = [:]
        for case .start(let name)? in mappings.map({ $0?.action }) where workflows[name] == nil {
            // The newest version, its definition decoded once per version (not once per batch).
            guard let stored = try await newestWorkflow(name) else {
                throw BatonError.conflict("source \(source.name) starts workflow \(name), which is not stored: apply it first")
            }
            workflows[name] = stored
        }
        let actions = mappings.map { mapping -> String in
            switch mapping?.action {
            case .start?: return "started"
            case .signal?: return "signalled"
            case .ownerChanged?: return "owner_changed"
            case .stage?: return "staged"
            case nil: return "ignored"
            }
        }
        let stages = mappings.contains { $0?.action == .stage } ? try await lifecycleStages().settable : []
        let (done, outcomes) = try await pool.transaction { connection -> (IngestReport, [String]) in
            // Per unique event, what became of it (the metric's outcome); rebuilt if the transaction is retried.
            var batch = report
            var outcomes = Array(repeating: "duplicate", count: unique.count)
            let fresh = Set(try await connection.query(Self.recordInboundEvents, [
                source.name, unique.map(\.id), unique.map(\.type), unique.map(\.contact), actions,
            ]).map { try $0.decode(String.self, at: 0) })
            batch.duplicates += unique.count - fresh.count
            var starts: [String: [(index: Int, request: EnrollmentRequest)]] = [:]
            for (index, (event, mapping)) in zip(unique, mappings).enumerated() where fresh.contains(event.id) {
                switch mapping?.action {
                case .start(let name)?:
                    starts[name, default: []].append((index, EnrollmentRequest(contact: event.contact, attributes: event.attributes)))
                case .signal(let name)?:
                    try await mergeAttributes(event, connection)
                    try await connection.query(Self.lockContactForSignal, [event.contact])
                    let row = try await connection.query(Self.recordSignal, [event.contact, name, Self.payload(event)])[0]
                    let signalled = try row.decode(Int?.self, "signal") != nil
                    if signalled { batch.signalled += 1 } else { batch.ignored += 1 }
                    outcomes[index] = signalled ? "signalled" : "ignored"
                case .ownerChanged?:
                    let changed = try await recordOwnerChange(event, source: source, connection)
                    if changed { batch.owner_changed += 1 } else { batch.ignored += 1 }
                    outcomes[index] = changed ? "owner_changed" : "ignored"
                case .stage?:
                    let before = batch
                    try await recordStage(event, source: source, stages: stages, &batch, connection)
                    outcomes[index] = batch.staged > before.staged ? "staged" : batch.rejected > before.rejected ? "rejected" : "ignored"
                case nil:
                    try await mergeAttributes(event, connection)
                    batch.ignored += 1
                    outcomes[index] = "ignored"
                }
            }
            for (name, entries) in starts.sorted(by: { $0.key < $1.key }) {
                let stored = workflows[name]!
                let requests = entries.map(\.request)
                let rows = try await connection.query(Self.enrollContacts, [
                    stored.name, stored.version, stored.definition.start, requests.map(\.contact),
                    PostgresArrayLiteral(requests.map { PostgresJSON($0.attributes).postgresText }), true, false,
                ])
                var created = Set(try rows.filter { try $0.decode(Bool.self, "created") }.map { try $0.decode(String.self, "contact") })
                batch.started += created.count
                // An event whose contact already runs the workflow starts nothing.
                for entry in entries { outcomes[entry.index] = created.remove(entry.request.contact) != nil ? "started" : "ignored" }
            }
            return (batch, outcomes)
        }
        Self.countInbound(events, unique: unique, outcomes: outcomes, source: source)
        return done
    }

    /// `baton_inbound_events_total` for a committed batch: each event's type (when the source maps
    /// it, else `other`) and outcome; a second copy of an event in the batch is a duplicate.
    private static func countInbound(_ events: [InboundEvent], unique: [InboundEvent], outcomes: [String], source: Source) {
        let mapped = Set(source.events.map(\.type))
        var counts: [String: [String: Int]] = [:]
        for (event, outcome) in zip(unique, outcomes) { counts[event.type, default: [:]][outcome, default: 0] += 1 }
        var seen = Set<String>()
        for event in events where !seen.insert(event.id).inserted { counts[event.type, default: [:]]["duplicate", default: 0] += 1 }
        for (type, byOutcome) in counts {
            for (outcome, count) in byOutcome {
                BatonMetrics.inboundEvents(source: source.name, type: mapped.contains(type) ? type : "other", outcome: outcome, count)
            }
        }
    }

    private func mergeAttributes(_ event: InboundEvent, _ connection: Connection) async throws {
        guard !event.attributes.isEmpty else { return }
        try await connection.query(Self.mergeContactAttributes, [event.contact, PostgresJSON(event.attributes)])
    }

    /// A person changed the owner in the CRM. Baton's own write-back echoes back as a change to the
    /// owner Baton already recorded, or to the owner id Baton last wrote (when the contact's owner
    /// changed again meanwhile), which changes nothing here: no echo loop.
    private func recordOwnerChange(_ event: InboundEvent, source: Source, _ connection: Connection) async throws -> Bool {
        guard let crmOwner = event.value, !crmOwner.isEmpty else { return false }
        let row = try await connection.query(Self.resolveCRMOwner, [crmOwner, event.contact])[0]
        guard try row.decode(Int.self, "known") == 1, let member = try row.decode(String?.self, "member") else { return false }
        if try row.decode(String?.self, "owner") == member { return false }
        if source.kind == .hubspot, try await connection.query(Self.isOwnWriteBack, [
            event.contact, crmOwner, event.occurredAt, Self.echoClockTolerance,
        ])[0].decode(Bool.self, "own") {
            return false
        }
        if source.kind == .hubspot {
            try await connection.query(Self.recordCRMReportedOwner, [event.contact, crmOwner])
        }
        let actor = "\(source.name):\(event.actor ?? "crm")"
        let reason = "manual:\(actor) changed in \(source.kind == .hubspot ? "HubSpot" : source.name)"
        try await connection.query(Self.reassignContact, [event.contact, member, reason])
        try await connection.query(Self.lockContactForSignal, [event.contact])
        let payload = PostgresJSON(["to": member, "source": source.name, "event_id": event.id]).postgresText
        try await connection.query(Self.recordSignal, [event.contact, "owner_changed", payload])
        return true
    }

    /// A `stage: true` mapping: the property's new value (a generic webhook's `lifecycle` attribute)
    /// becomes the record's lifecycle stage, HubSpot's names of the default stages mapped. A value
    /// that is no stage is rejected (counted, with its line in `errors`); the rest of the batch
    /// goes on. An unknown record is ignored, as for signals.
    private func recordStage(_ event: InboundEvent, source: Source, stages: [String], _ report: inout IngestReport,
                             _ connection: Connection) async throws {
        let value = source.kind == .hubspot ? event.value : event.attributes["lifecycle"]
        let property = source.kind == .hubspot ? event.property ?? "lifecyclestage" : "lifecycle"
        guard let value, let stage = Lifecycle.stage(forCRMValue: value, stages: stages) else {
            report.rejected += 1
            report.errors.append("event \(event.id): \(property) \(value.map { "\"\($0)\"" } ?? "(no value)") is no lifecycle "
                                 + "stage (stages: \(stages.joined(separator: ", "))): add it to the team file's lifecycle:")
            return
        }
        try await mergeAttributes(event, connection)
        let cause = "\(source.name) \(property) \(value)"
        if try await changeStage(event.contact, to: stage, cause: cause, on: connection) == nil { report.ignored += 1 } else { report.staged += 1 }
    }

    private static func payload(_ event: InboundEvent) -> String {
        var object: [String: String] = ["event_id": event.id, "type": event.type]
        if let property = event.property { object["property"] = property }
        if let value = event.value { object["value"] = value }
        return PostgresJSON(object).postgresText
    }
}
