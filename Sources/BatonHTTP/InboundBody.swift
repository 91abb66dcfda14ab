import Baton
import Crypto
import Foundation

/// The bodies of the signed inbound hooks (`HooksController`), read into events before anything is
/// stored: pure functions of the bytes, so they can be fuzzed. A body that cannot be read is refused
/// with one line (a `Problem`); an event that is returned can be stored.
enum InboundBody {
    /// `POST /hooks/hubspot/{source}`: a JSON array of HubSpot events.
    static func hubspot(_ body: Data, maxAttributeBytes: Int) throws -> [InboundEvent] {
        guard case .array(let items)? = JSONValue.parse(body) else {
            throw Problem.malformed("a HubSpot webhook body is a JSON array of events")
        }
        var events: [InboundEvent] = []
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item else { throw Problem.malformed("event \(index + 1) is not a JSON object") }
            // PostgreSQL text cannot hold a NUL: refused here, not by the database halfway through the batch.
            for field in ["eventId", "subscriptionType", "objectId", "propertyName", "propertyValue", "sourceId", "changeSource"]
            where object[field]?.scalarText?.contains("\u{0}") == true {
                throw Problem.malformed("event \(index + 1): \(field) contains a NUL character")
            }
            guard let id = object["eventId"]?.scalarText, let type = object["subscriptionType"]?.scalarText,
                  let contact = object["objectId"]?.scalarText, !contact.isEmpty else {
                throw Problem.malformed("event \(index + 1) needs eventId, subscriptionType and objectId")
            }
            let property = object["propertyName"]?.scalarText
            let value = object["propertyValue"]?.scalarText
            var attributes: [String: String] = [:]
            if let property, let value, value.utf8.count <= maxAttributeBytes { attributes[property] = value }
            let actor = object["sourceId"]?.scalarText ?? object["changeSource"]?.scalarText
            // occurredAt: milliseconds since the epoch, by HubSpot's clock.
            let occurredAt = object["occurredAt"]?.scalarText.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
            events.append(InboundEvent(id: id, type: type, contact: contact, property: property, value: value,
                                       attributes: attributes, actor: actor, occurredAt: occurredAt))
        }
        return events
    }

    /// `POST /hooks/webhook/{source}`: one JSON object `{event, contact, attributes, id?, actor?}`. Without
    /// an `id`, the request's `Idempotency-Key`, else the body's SHA-256, identifies the event.
    static func webhook(_ body: Data, idempotencyKey: String?, maxAttributeBytes: Int) throws -> InboundEvent {
        guard case .object(let object)? = JSONValue.parse(body) else {
            throw Problem.malformed("the body must be a JSON object {event, contact, attributes}")
        }
        let fields = JSONFields(object)
        let event = try fields.string("event")
        let contact = try fields.string("contact")
        let attributes = try fields.attributes("attributes", maxValueBytes: maxAttributeBytes)
        let id = try fields.optionalString("id") ?? idempotencyKey
            ?? SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        return InboundEvent(id: id, type: event, contact: contact, attributes: attributes, actor: try fields.optionalString("actor"))
    }
}
