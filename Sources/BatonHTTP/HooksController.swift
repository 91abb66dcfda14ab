import Baton
import BatonCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `POST /hooks/hubspot/{source}` and `POST /hooks/webhook/{source}`: signed inbound events that start
/// workflows, send signals and report owner changes made in a CRM. No bearer token: the signature
/// under the source's secret (from baton-server's environment, named by the sources file) is the
/// authentication. A batch is committed in one transaction and answered 200 only after the commit,
/// so a sender that retries after a failure finds it unprocessed; a redelivered event does nothing.
struct HooksController {
    let store: Store
    let settings: ServerSettings

    func register(on router: Hummingbird.Router<BatonRequestContext>) {
        router.post("hooks/hubspot/{source}", use: hubspot)
        router.post("hooks/webhook/{source}", use: webhook)
    }

    @Sendable func hubspot(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let (source, secret) = try await resolve(context, kind: .hubspot)
        let body = Data(buffer: try await request.body.collect(upTo: settings.maxBodyBytes))
        let uri = settings.publicBaseURL + request.uri.description
        if let why = InboundSignature.checkHubSpot(
            secret: secret, method: request.method.rawValue, uri: uri, body: body,
            timestamp: request.headers[.hubSpotTimestamp], signature: request.headers[.hubSpotSignature], now: Date()) {
            context.logger.warning("refused an inbound batch", metadata: ["source": .string(source.name), "why": .string(why)])
            BatonMetrics.inboundEvents(source: source.name, type: "unknown", outcome: "rejected_signature")
            throw Problem.unauthorized("the request is not signed by \(source.name)'s secret (\(why))")
        }
        guard case .array(let items)? = JSONValue.parse(body) else {
            throw Problem.malformed("a HubSpot webhook body is a JSON array of events")
        }
        var events: [InboundEvent] = []
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item else { throw Problem.malformed("event \(index + 1) is not a JSON object") }
            guard let id = object["eventId"]?.scalarText, let type = object["subscriptionType"]?.scalarText,
                  let contact = object["objectId"]?.scalarText, !contact.isEmpty else {
                throw Problem.malformed("event \(index + 1) needs eventId, subscriptionType and objectId")
            }
            let property = object["propertyName"]?.scalarText
            let value = object["propertyValue"]?.scalarText
            var attributes: [String: String] = [:]
            if let property, let value, value.utf8.count <= settings.maxAttributeBytes, !value.contains("\u{0}") { attributes[property] = value }
            let actor = object["sourceId"]?.scalarText ?? object["changeSource"]?.scalarText
            // occurredAt: milliseconds since the epoch, by HubSpot's clock.
            let occurredAt = object["occurredAt"]?.scalarText.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
            events.append(InboundEvent(id: id, type: type, contact: contact, property: property, value: value,
                                       attributes: attributes, actor: actor, occurredAt: occurredAt))
        }
        return JSON.response(try await store.ingest(events, from: source))
    }

    @Sendable func webhook(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let (source, secret) = try await resolve(context, kind: .webhook)
        let body = Data(buffer: try await request.body.collect(upTo: settings.maxBodyBytes))
        if let why = InboundSignature.checkBaton(secret: secret, body: body, header: request.headers[.batonSignature], now: Date()) {
            context.logger.warning("refused an inbound event", metadata: ["source": .string(source.name), "why": .string(why)])
            BatonMetrics.inboundEvents(source: source.name, type: "unknown", outcome: "rejected_signature")
            throw Problem.unauthorized("the request is not signed by \(source.name)'s secret (\(why))")
        }
        guard case .object(let object)? = JSONValue.parse(body) else {
            throw Problem.malformed("the body must be a JSON object {event, contact, attributes}")
        }
        let fields = JSONFields(object)
        let event = try fields.string("event")
        let contact = try fields.string("contact")
        let attributes = try fields.attributes("attributes", maxValueBytes: settings.maxAttributeBytes)
        let id = try fields.optionalString("id") ?? request.headers[.idempotencyKey]
            ?? SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let inbound = InboundEvent(id: id, type: event, contact: contact, attributes: attributes, actor: try fields.optionalString("actor"))
        return JSON.response(try await store.ingest([inbound], from: source))
    }

    /// The source and its secret; 404 for an unknown source (or one of another kind), 503 when the
    /// server lacks the secret's environment variable.
    private func resolve(_ context: BatonRequestContext, kind: SourceKind) async throws -> (Source, String) {
        let name = try context.parameters.require("source")
        guard let source = try await store.source(name), source.kind == kind else {
            throw Problem.notFound("no \(kind.rawValue) source \(name): see `batonctl sources apply FILE`")
        }
        guard let secret = settings.environment[source.secretEnv], !secret.isEmpty else {
            context.logger.error("inbound source has no secret", metadata: ["source": .string(name), "variable": .string(source.secretEnv)])
            throw Problem(.unavailable, .serviceUnavailable,
                          "source \(name) cannot verify requests: baton-server's environment lacks \(source.secretEnv)")
        }
        return (source, secret)
    }
}

extension HTTPField.Name {
    static let hubSpotSignature = HTTPField.Name("X-HubSpot-Signature-v3")!
    static let hubSpotTimestamp = HTTPField.Name("X-HubSpot-Request-Timestamp")!
    static let batonSignature = HTTPField.Name("Baton-Signature")!
}
