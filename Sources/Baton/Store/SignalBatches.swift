import BatonCore
import Postgres

/// One signal of a batch: the contact (a storage key, `KIND:ID` for other kinds) and its payload.
public struct SignalRequest: Sendable {
    public var contact: String
    public var payload: String?
    public init(contact: String, payload: String? = nil) {
        self.contact = contact
        self.payload = payload
    }
}

/// What happened to one signal of a batch: its id, or nil when the contact is unknown.
public struct SignalOutcome: Sendable {
    public var contact: String
    public var signal: Int?
    public var woken: Int
    /// The stage change its payload's `lifecycle` asked for.
    public var stage: StageOutcome? = nil
}

extension Store {
    /// Records `name` for every request in one transaction (each contact locked and signalled as
    /// `signal` does, all in one pipelined round trip) and returns an outcome per request, in order.
    /// An unknown contact stores nothing for that line and does not fail the others. A deadlock with
    /// a worker's batch (both lock contacts) rolls the batch back and runs it again, up to 3 times.
    ///
    /// A payload with `lifecycle: STAGE` moves its record to that stage as `sendSignal` does, in the
    /// batch's transaction; an unknown stage fails the whole batch before anything is stored.
    public func signalMany(_ name: String, _ requests: [SignalRequest]) async throws -> [SignalOutcome] {
        if requests.isEmpty { return [] }
        let stages = try requests.map { try Self.requestedStage(inPayload: $0.payload) }
        if stages.contains(where: { $0 != nil }) {
            let settable = try await lifecycleStages().settable
            for (request, stage) in zip(requests, stages) {
                if let stage, let problem = Lifecycle.problem(with: stage, stages: settable) {
                    throw BatonError.invalid("signal \(name) for \(RecordRef(storageKey: request.contact)): \(problem)")
                }
            }
        }
        var statements: [Statement] = []
        statements.reserveCapacity(requests.count * 2)
        for (request, stage) in zip(requests, stages) {
            // The stronger lock at once for a stage change (see `sendSignal`).
            statements.append(Statement(stage == nil ? Self.lockContactForSignal : Self.lockRecordStage, [request.contact]))
            statements.append(Statement(Self.recordSignal, [request.contact, name, request.payload]))
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await pool.transaction { connection in
                    let results = try await connection.pipeline(statements)
                    var outcomes: [SignalOutcome] = []
                    for (index, request) in requests.enumerated() {
                        let row = results[index * 2 + 1][0]
                        var outcome = SignalOutcome(contact: request.contact, signal: try row.decode(Int?.self, "signal"),
                                                    woken: try row.decode(Int.self, "woken"))
                        if outcome.signal != nil, let stage = stages[index] {
                            outcome.stage = try await changeStage(request.contact, to: stage, cause: "signal \(name)", on: connection)
                        }
                        outcomes.append(outcome)
                    }
                    return outcomes
                }
            } catch let error as PostgresError where error.isDeadlock && attempt < 3 {
                continue
            }
        }
    }
}
