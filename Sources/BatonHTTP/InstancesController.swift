import Baton
import Foundation
import Hummingbird

/// `/v1/instances`: start (one or in bulk), list with keyset pages, show, and repair.
struct InstancesController {
    let store: Store
    let settings: ServerSettings
    let wake: WakeCoalescer
    let starts: StartCoalescer

    func register(on group: RouterGroup<BatonRequestContext>) {
        group.post("instances", use: start)
        group.post("instances/bulk", use: bulk)
        group.get("instances", use: list)
        group.get("instances/{id}", use: show)
        group.post("instances/{id}/retry", use: retry)
        group.post("instances/{id}/cancel", use: cancel)
        group.post("instances/{id}/resume", use: resume)
    }

    /// `POST /v1/instances {workflow, contact, attributes}`: 201 with a new instance, 200 with the
    /// contact's live instance of that workflow when it has one (its attributes are updated).
    @Sendable func start(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.operator_, to: "starting an instance")
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let fields = JSONFields(try JSON.object(body))
            let workflow = try fields.string("workflow")
            let contact = try fields.recordKey()
            let attributes = try fields.attributes("attributes", maxValueBytes: settings.maxAttributeBytes)
            let start = EnrollmentRequest(contact: contact, attributes: attributes)
            // With an Idempotency-Key the start runs in the request's own transaction (see `idempotent`);
            // without one it may share a statement and a commit with concurrent starts.
            let enrolled = request.headers[.idempotencyKey] == nil
                ? try await starts.enroll(start, in: workflow)
                : try await store.enroll([start], in: workflow, notify: false)[0]
            if enrolled.created { await wake.poke(workflow) }
            // A new instance is answered as its start stored it (no timeline, no wait yet); a live one as it is now.
            let detail: InstanceDetail
            if let summary = enrolled.summary {
                detail = InstanceDetail(summary, lastError: nil, timeline: [])
            } else {
                guard let live = try await store.instanceDetail(enrolled.instance) else {
                    throw BatonError.notFound("instance \(enrolled.instance) vanished")
                }
                detail = live
            }
            return Reply(detail, status: enrolled.created ? .created : .ok, location: "/v1/instances/\(detail.id)")
        }
    }

    /// `POST /v1/instances/bulk`: a JSON array, or JSON lines, of `{workflow, contact, attributes}`
    /// (`workflow` may come from `?workflow=` instead). Bad lines are reported by number and
    /// skipped; with `?strict=true` one bad line refuses the whole request before anything is stored.
    @Sendable func bulk(_ request: Request, context: BatonRequestContext) async throws -> Response {
        _ = try context.require(.operator_, to: "starting instances")
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        let defaultWorkflow = request.uri.queryParameters.get("workflow")
        let strict = try BoolParameter.parse(request.uri.queryParameters.get("strict"), name: "strict") ?? false
        return try await idempotent(request, context, store: store, body: body) {
            let parsed = try BulkEnrollment.parse(Data(buffer: body), defaultWorkflow: defaultWorkflow,
                                                  maxItems: settings.maxBulkItems, maxValueBytes: settings.maxAttributeBytes)
            if strict && !parsed.errors.isEmpty {
                throw Problem(.invalid, .unprocessableContent,
                              "\(parsed.errors.count) bad line(s), nothing stored (strict): line \(parsed.errors[0].line): \(parsed.errors[0].message)",
                              errors: parsed.errors.map { Problem.FieldError(file: "body", line: $0.line, column: 1, field: "", message: $0.message) })
            }
            let report = try await BulkEnrollment.enroll(parsed, store: store, strict: strict)
            return Reply(report)
        }
    }

    /// `GET /v1/instances?workflow=&version=&state=&owner=&team=&step=&contact=&started_after=&started_before=&limit=&cursor=&sort=`
    /// (`sort=id|-id|run_at|-run_at|updated_at|-updated_at`, default `id`; `order=asc|desc` is the
    /// older spelling of `sort=id|-id`).
    @Sendable func list(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let q = request.uri.queryParameters
        var query = try InstanceQuery.parse { name in q.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        if let limit = q.get("limit") {
            guard let n = Int(limit) else { throw Problem.invalid("limit must be a number from 1 to 1000, got \(limit)") }
            query.limit = n
        } else {
            query.limit = 50
        }
        if let order = q.get("order") {
            guard (q.get("sort") ?? "").isEmpty else { throw Problem.invalid("pass sort or order, not both (order=desc is sort=-id)") }
            switch order {
            case "asc": query.sort = .id
            case "desc": query.sort = .idDescending
            case let other: throw Problem.invalid("order must be asc or desc, got \(other)")
            }
        }
        if let text = q.get("cursor"), !text.isEmpty {
            guard let cursor = InstanceCursor(text: text) else {
                throw Problem.invalid("cursor is not one this server gave out: pass next_cursor from the previous page")
            }
            query.after = cursor
        }
        return JSON.response(try await store.instancePage(query))
    }

    /// `GET /v1/instances/{id}`: the instance and its whole timeline.
    @Sendable func show(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let id = try instanceID(context)
        guard let detail = try await store.instanceDetail(id) else { throw Problem.notFound("no instance \(id)") }
        return JSON.response(detail)
    }

    /// `POST /v1/instances/{id}/retry`: a failed instance runs again from the step it failed at.
    @Sendable func retry(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let caller = try context.require(.admin, to: "retrying an instance")
        let id = try instanceID(context)
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            try await store.retryFailed(instance: id, by: caller.name)
            return try await detailReply(id)
        }
    }

    /// `POST /v1/instances/{id}/cancel {reason}`.
    @Sendable func cancel(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let caller = try context.require(.admin, to: "cancelling an instance")
        let id = try instanceID(context)
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let reason = body.readableBytes == 0 ? nil : try JSONFields(try JSON.object(body)).optionalString("reason")
            try await store.cancel(instance: id, by: caller.name, reason: reason)
            return try await detailReply(id)
        }
    }

    /// `POST /v1/instances/{id}/resume {step}`: run from a step of its workflow version.
    @Sendable func resume(_ request: Request, context: BatonRequestContext) async throws -> Response {
        let caller = try context.require(.admin, to: "resuming an instance")
        let id = try instanceID(context)
        let body = try await request.body.collect(upTo: settings.maxBodyBytes)
        return try await idempotent(request, context, store: store, body: body) {
            let step = try JSONFields(try JSON.object(body)).string("step")
            try await store.resume(instance: id, at: step, by: caller.name)
            return try await detailReply(id)
        }
    }

    private func detailReply(_ id: Int) async throws -> Reply {
        guard let detail = try await store.instanceDetail(id) else { throw Problem.notFound("no instance \(id)") }
        return Reply(detail)
    }

    private func instanceID(_ context: BatonRequestContext) throws -> Int {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int(text), id > 0 else { throw Problem.notFound("no instance \(text): instance ids are positive numbers") }
        return id
    }
}

/// `true`/`false` query parameters.
enum BoolParameter {
    static func parse(_ text: String?, name: String) throws -> Bool? {
        switch text {
        case nil: return nil
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        case let other?: throw Problem.invalid("\(name) must be true or false, got \(other)")
        }
    }
}
