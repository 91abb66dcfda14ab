import Baton
import BatonTesting
import Foundation
import Hummingbird
import Testing

@testable import BatonHTTP

/// A bounded random-input test ("fuzzing", see `Fuzzer`) of what the HTTP API reads from a request
/// body: `JSONParser` (checked against `JSONDecoder`), the fields of the API's JSON bodies, bulk
/// enrollments, and the signed HubSpot and webhook hooks' bodies. Nothing may crash; every refusal is
/// a `Problem` (or a numbered line) of one clear line; whatever is accepted can be stored (no NUL,
/// no value over the limit). `scripts/chaos` runs it for a fixed time (`BATON_FUZZ_SECONDS`).
@Suite("Hostile request bodies")
struct HostileBodyTests {
    static let maxValueBytes = 1024

    static let bodies = [
        #"{"workflow": "inbound-lead", "contact": "C-1", "attributes": {"country": "DE", "seats": 40, "vip": true}}"#,
        #"{"event": "first_touch", "record": "deal:D-7", "payload": {"by": "ana", "n": [1, 2.5, null]}}"#,
        #"{"to": "m3", "reason": "territory moved", "step": "wait"}"#,
        #"[{"eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 5000001, "propertyName": "lifecyclestage", "#
            + #""propertyValue": "customer", "occurredAt": 1700000000000, "changeSource": "CRM_UI", "sourceId": "u-1"}]"#,
        #"{"event": "form_submitted", "contact": "C-9", "attributes": {"source": "web"}, "id": "evt-1", "actor": "forms"}"#,
        #"{"workflow": "w", "contact": "C-1"}"# + "\n" + #"{"record": "company:acme", "attributes": {"a": "b"}}"# + "\n\n"
            + #"{"contact": "C-3", "attributes": {"x": 1e3}}"#,
    ]

    /// What to check about each input: a refusal's line(s), or the accepted result.
    enum Outcome {
        case accepted([String])       // every string the result holds (each must be storable)
        case refused([String])        // every message (each must be one clear line)
    }

    func fuzz(_ kind: String, seed: UInt64, count: Int, _ read: (Data) -> Outcome) async {
        var fuzzer = Fuzzer(kind, seed: seed, count: count)
        while fuzzer.more() {
            let n = fuzzer.next()
            let bytes = n % 50 == 49 ? Self.deep(&fuzzer) : fuzzer.input(seeds: Self.bodies, fragments: Fuzzer.jsonFragments, number: n)
            switch read(Data(bytes)) {
            case .accepted(let strings):
                for text in strings where text.contains("\u{0}") {
                    fuzzer.countFailure()
                    Issue.record("\(kind) input \(n) (seed \(fuzzer.seed)) accepted a NUL, which cannot be stored: \(text.debugDescription) from \(Fuzzer.shown(bytes))")
                }
            case .refused(let messages):
                fuzzer.countRefused()
                for message in messages where !Fuzzer.isOneClearLine(message) {
                    fuzzer.countFailure()
                    Issue.record("\(kind) input \(n) (seed \(fuzzer.seed)) \(Fuzzer.shown(bytes)): \(message.debugDescription)")
                }
            }
            if n % 64 == 63 { await Task.yield() }
        }
        fuzzer.report()
        #expect(fuzzer.inputs > 0)
    }

    /// Deep nesting, well-formed or cut short.
    static func deep(_ fuzzer: inout Fuzzer) -> [UInt8] {
        let depth = fuzzer.below(2000)
        let open = fuzzer.below(2) == 0 ? "[" : "{\"a\":"
        let close = open == "[" ? "]" : "}"
        return Array((String(repeating: open, count: depth) + "1" + String(repeating: close, count: fuzzer.below(depth + 1))).utf8)
    }

    /// A thrown error as the client would see it: a Problem's detail; anything else is a failure.
    static func refusal(_ error: any Error) -> Outcome {
        if let problem = error as? Problem { return .refused([problem.detail] + (problem.errors ?? []).map(\.message)) }
        return .refused(["not a Problem: \(String(reflecting: error))\n"])  // fails the one-line check on purpose
    }

    @Test("JSONParser answers as JSONDecoder does, on any bytes")
    func fuzzJSONDocuments() async {
        await fuzz("JSON documents (JSONParser against JSONDecoder)", seed: 11, count: 1500) { data in
            let parsed = JSONParser.parse(data)
            let decoded = try? JSONDecoder().decode(JSONValue.self, from: data)
            // JSONDecoder checks a value only when it reads it, so a duplicate key's ignored value may
            // hold anything (invalid UTF-8, a raw control character, a bad \u escape, a malformed
            // number such as 2.1.5e3085); JSONParser refuses those anywhere. That one difference is
            // allowed: where JSONParser refuses what JSONDecoder read, JSONSerialization, which checks
            // every value of the document, must refuse it too.
            let invalidSomewhere = (try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) == nil
            if parsed != decoded && !(parsed == nil && invalidSomewhere) {
                return .refused(["JSONParser read \(String(describing: parsed)) where JSONDecoder read \(String(describing: decoded))\n"])
            }
            guard let parsed else { return .refused(["not JSON"]) }
            return .accepted(parsed.strings.filter { !$0.contains("\u{0}") })  // a JSON string may hold a NUL; fields refuse it
        }
    }

    @Test("the API's JSON bodies: starting an instance, a signal, a reassignment")
    func fuzzAPIBodies() async {
        await fuzz("API request bodies (instances, signals, reassign)", seed: 12, count: 1500) { data in
            do {
                let fields = JSONFields(try JSON.object(ByteBuffer(data: data)))
                var strings: [String] = []
                if fields.object["workflow"] != nil { strings.append(try fields.string("workflow")) }
                if fields.object["event"] != nil { strings.append(try fields.string("event")) }
                if fields.object["to"] != nil { strings += [try fields.string("to"), try fields.string("reason")] }
                if fields.object["step"] != nil { strings.append(try fields.string("step")) }
                strings.append(try fields.recordKey())
                let attributes = try fields.attributes("attributes", maxValueBytes: Self.maxValueBytes)
                strings += Array(attributes.keys) + Array(attributes.values)
                if let payload = try fields.rawJSON("payload") { strings.append(payload) }
                return .accepted(strings)
            } catch {
                return Self.refusal(error)
            }
        }
    }

    @Test("bulk enrollments: a JSON array or JSON lines")
    func fuzzBulkBodies() async {
        await fuzz("bulk enrollment bodies", seed: 13, count: 1000) { data in
            do {
                let parsed = try BulkEnrollment.parse(data, defaultWorkflow: nil, maxItems: 100, maxValueBytes: Self.maxValueBytes)
                if !parsed.errors.isEmpty { return .refused(parsed.errors.map(\.message)) }
                return .accepted(parsed.items.flatMap { [$0.workflow, $0.request.contact] + $0.request.attributes.flatMap { [$0.key, $0.value] } })
            } catch {
                return Self.refusal(error)
            }
        }
    }

    @Test("HubSpot hook bodies")
    func fuzzHubSpotBodies() async {
        await fuzz("HubSpot hook bodies", seed: 14, count: 1000) { data in
            do {
                let events = try InboundBody.hubspot(data, maxAttributeBytes: Self.maxValueBytes)
                return .accepted(events.flatMap(Self.strings))
            } catch {
                return Self.refusal(error)
            }
        }
    }

    @Test("webhook hook bodies")
    func fuzzWebhookBodies() async {
        await fuzz("webhook hook bodies", seed: 15, count: 1000) { data in
            do {
                return .accepted(Self.strings(try InboundBody.webhook(data, idempotencyKey: nil, maxAttributeBytes: Self.maxValueBytes)))
            } catch {
                return Self.refusal(error)
            }
        }
    }

    /// Inputs the fuzzer found (and their neighbours): a NUL or a line break in an attribute's name
    /// was echoed into the message; a HubSpot event with a NUL in a field was accepted, to fail in
    /// the database (22P05) instead of being refused.
    @Test func namesAreShownEscapedAndNULsRefused() throws {
        let bodies = [
            #"{"workflow": "w", "contact": "C-1", "attributes": {"sea\u0000ts": 40}}"#,
            #"{"workflow": "w", "contact": "C-1", "attributes": {"a\nb": [1]}}"#,
            #"{"workflow": "w", "contact": "C-1", "attributes": {"a\u2028b": "x\u0000"}}"#,
            #"{"workflow": "w", "contact": "C-1", "attributes": {"a\rb": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"#,
            #"{"workflow": "w", "contact": "deal:D\n7"}"#,
            #"{"workflow": "w", "record": "nothing\nhere"}"#,
        ]
        for body in bodies {
            do {
                let fields = JSONFields(try JSON.object(ByteBuffer(data: Data(body.utf8))))
                _ = try fields.recordKey()
                _ = try fields.attributes("attributes", maxValueBytes: 100)
                Issue.record("accepted \(body)")
            } catch let problem as Problem {
                #expect(Fuzzer.isOneClearLine(problem.detail), "\(body): \(problem.detail.debugDescription)")
            }
        }
        for field in ["eventId", "subscriptionType", "objectId", "propertyName", "propertyValue", "sourceId", "changeSource"] {
            var event: [String: String] = ["eventId": "1", "subscriptionType": "contact.propertyChange", "objectId": "5000001",
                                           "propertyName": "lifecyclestage", "propertyValue": "customer", "sourceId": "u-1", "changeSource": "CRM_UI"]
            event[field] = "a\u{0}b"
            let body = try JSONEncoder().encode([event])
            do {
                let events = try InboundBody.hubspot(body, maxAttributeBytes: 100)
                Issue.record("a NUL in \(field) was accepted: \(events)")
            } catch let problem as Problem {
                #expect(Fuzzer.isOneClearLine(problem.detail), "\(field): \(problem.detail.debugDescription)")
                #expect(problem.detail.contains(field), "\(field): \(problem.detail)")
            }
        }
    }

    /// Every string an inbound event would store.
    static func strings(_ event: InboundEvent) -> [String] {
        [event.id, event.type, event.contact, event.property ?? "", event.value ?? "", event.actor ?? ""]
            + event.attributes.flatMap { [$0.key, $0.value] }
    }
}

extension JSONValue {
    /// Every string in the value, keys included.
    var strings: [String] {
        switch self {
        case .string(let text): return [text]
        case .array(let elements): return elements.flatMap(\.strings)
        case .object(let members): return members.flatMap { [$0.key] + $0.value.strings }
        default: return []
        }
    }
}
