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
}

extension Store {
    /// Records `name` for every request in one transaction (each contact locked and signalled as
    /// `signal` does, all in one pipelined round trip) and returns an outcome per request, in order.
    /// An unknown contact stores nothing for that line and does not fail the others. A deadlock with
    /// a worker's batch (both lock contacts) rolls the batch back and runs it again, up to 3 times.
    public func signalMany(_ name: String, _ requests: [SignalRequest]) async throws -> [SignalOutcome] {
        if requests.isEmpty { return [] }
        var statements: [Statement] = []
        statements.reserveCapacity(requests.count * 2)
        for request in requests {
            statements.append(Statement(Self.lockContactForSignal, [request.contact]))
            statements.append(Statement(Self.recordSignal, [request.contact, name, request.payload]))
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                let results = try await pool.transaction { try await $0.pipeline(statements) }
                return try requests.enumerated().map { index, request in
                    let row = results[index * 2 + 1][0]
                    return SignalOutcome(contact: request.contact, signal: try row.decode(Int?.self, "signal"),
                                         woken: try row.decode(Int.self, "woken"))
                }
            } catch let error as PostgresError where error.isDeadlock && attempt < 3 {
                continue
            }
        }
    }
}
