import Baton
import BatonCore
import Foundation
import Hummingbird

/// `/v1/contacts/{id}`: a contact's owner and whole ownership history; reassigning it by hand;
/// `/v1/records/{KIND:ID}`: a record of any kind; setting its lifecycle stage by hand.
struct ContactsController {
    let store: Store
    let settings: ServerSettings

    func register(on group: RouterGroup<BatonRequestContext>) {
        group.get("contacts/{id}", use: show)
        group.post("contacts/{id}/reassign", use: reassign)
        group.get("records/{record}", use: record)
        group.post("records/{record}/stage", use: stage)
    }

    /// `POST /v1/records/{KIND:ID}/stage {stage, reason?}`: `batonctl records stage` over HTTP, with
    /// its answer (`records stage --json`'s object) and its refusals; recorded as
    /// `manual:<token name>: <reason>`. An operator's right: a signal with `{"lifecycle": STAGE}`
    /// in its payload, which operators send, moves the stage the same way.
    @Sendable func stage(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let caller = try context.require(.operator_, to: "setting a lifecycle stage")
        let text = try context.parameters.require("record")
        let ref: RecordRef
        do { ref = try RecordRef.parseOption(text) } catch { throw Problem.malformed(error.message) }
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let fields = JSONFields(try JSON.object(body))
            let stage = try fields.string("stage")
            let cause = Store.manualStageCause(by: caller.name, reason: try fields.optionalString("reason"))
            return Reply(try await store.setStage(record: ref.storageKey, to: stage, cause: cause))
        }
    }

    /// `GET /v1/records/{KIND:ID}`: a record of any kind (`records show --json`).
    @Sendable func record(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let text = try context.parameters.require("record")
        let ref: RecordRef
        do { ref = try RecordRef.parseOption(text) } catch { throw Problem.malformed(error.message) }
        guard let record = try await store.record(ref) else { throw Problem.notFound("no record \(ref)") }
        return JSON.response(record)
    }

    @Sendable func show(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let contact = try await store.contact(id) else { throw Problem.notFound("no contact \(id)") }
        return JSON.response(contact)
    }

    /// `POST /v1/contacts/{id}/reassign {to, reason}`: recorded as `manual:<token name> <reason>`.
    @Sendable func reassign(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let caller = try context.require(.admin, to: "reassigning a contact")
        let id = try context.parameters.require("id")
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let fields = JSONFields(try JSON.object(body))
            let member = try fields.string("to")
            let reason = try fields.string("reason")
            try await store.reassignByHand(contact: id, to: member, reason: reason, by: caller.name)
            guard let contact = try await store.contact(id) else { throw Problem.notFound("no contact \(id)") }
            return Reply(contact)
        }
    }
}
