import BatonCore
import Foundation
import Postgres

/// What one signal did: its id, the waits it woke, and the stage change its payload asked for.
public struct SignalResult: Sendable {
    public var signal: Int
    public var woken: Int
    /// Set when the payload carried `lifecycle: STAGE`.
    public var stage: StageOutcome?
}

extension Store {
    /// The stage a signal's payload asks for (`{"lifecycle": "customer"}`); nil when the payload is
    /// not an object or has no `lifecycle` (or a null one).
    /// - Throws: `BatonError.invalid` when `lifecycle` is not text.
    public static func requestedStage(inPayload payload: String?) throws -> String? {
        guard let payload, let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
              let value = object["lifecycle"], !(value is NSNull)
        else { return nil }
        guard let stage = value as? String else {
            throw BatonError.invalid("the payload's lifecycle must be a stage name, e.g. {\"lifecycle\": \"customer\"}")
        }
        return stage
    }

    /// Records signal `name` for `contact` (a storage key) and wakes the instances waiting for it;
    /// when the payload carries `lifecycle: STAGE`, the record moves to that stage in the same
    /// transaction (history reason `stage FROM -> STAGE (signal NAME)`), starting the workflows
    /// whose `starts_on` matches. An unknown stage or record: an error, nothing stored.
    public func sendSignal(_ name: String, contact: String, payload: String?) async throws -> SignalResult {
        let stage = try Self.requestedStage(inPayload: payload)
        if let stage, let problem = Lifecycle.problem(with: stage, stages: try await lifecycleStages().settable) {
            throw BatonError.invalid("signal \(name): \(problem)")
        }
        return try await pool.transaction { connection in
            // The stronger lock first when the stage changes too: taking FOR SHARE and then
            // upgrading could deadlock with another signal doing the same.
            try await connection.query(stage == nil ? Self.lockContactForSignal : Self.lockRecordStage, [contact])
            let row = try await connection.query(Self.recordSignal, [contact, name, payload])[0]
            guard let id = try row.decode(Int?.self, "signal") else { throw BatonError.notFound(Self.unknownRecord(contact)) }
            var result = SignalResult(signal: id, woken: try row.decode(Int.self, "woken"))
            if let stage { result.stage = try await changeStage(contact, to: stage, cause: "signal \(name)", on: connection) }
            return result
        }
    }
}
