import Baton
import BatonCore
import Foundation
import Hummingbird

/// `POST /v1/signals {event, contact | record, payload}`: records an external event and wakes the waits for it;
/// a payload with `lifecycle: STAGE` also moves the record's stage.
struct SignalsController {
    let store: Store
    let settings: ServerSettings

    /// What a signal did.
    struct Recorded: Encodable {
        var id: String
        var event: String
        var contact: String
        var record: String
        var woken: Int
        /// The stage change the payload's `lifecycle` asked for; null when none.
        var stage: StageOutcome?

        enum CodingKeys: String, CodingKey { case id, event, contact, record, woken, stage }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id); try c.encode(event, forKey: .event); try c.encode(contact, forKey: .contact)
            try c.encode(record, forKey: .record); try c.encode(woken, forKey: .woken)
            try c.encode(stage, forKey: .stage)  // null, not absent, when there is none
        }
    }

    func register(on group: RouterGroup<BatonRequestContext>) {
        group.post("signals", use: signal)
    }

    @Sendable func signal(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.operator_, to: "sending a signal")
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let fields = JSONFields(try JSON.object(body))
            let event = try fields.string("event")
            let contact = try fields.recordKey()
            let payload = try fields.rawJSON("payload")
            if let payload, payload.utf8.count > settings.maxAttributeBytes {
                throw Problem.tooLarge("payload is \(payload.utf8.count) bytes; the limit is \(settings.maxAttributeBytes)")
            }
            let result = try await store.sendSignal(event, contact: contact, payload: payload)
            return Reply(Recorded(id: String(result.signal), event: event, contact: contact,
                                  record: RecordRef(storageKey: contact).description, woken: result.woken, stage: result.stage),
                         status: .created)
        }
    }
}
