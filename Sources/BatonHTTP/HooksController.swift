import Baton
import BatonCore
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
        let events = try InboundBody.hubspot(body, maxAttributeBytes: settings.maxAttributeBytes)
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
        let inbound = try InboundBody.webhook(body, idempotencyKey: request.headers[.idempotencyKey],
                                              maxAttributeBytes: settings.maxAttributeBytes)
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
