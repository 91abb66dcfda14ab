import Baton
import BatonTesting
import Foundation
import Testing

/// Concurrent single starts share statements and commits (`StartCoalescer`), and each request
/// still gets the answer it would get alone.
extension HTTPAPITests {
    @Test("concurrent starts: each contact gets one instance, one 201 per contact and 200 for the rest, and a bad request fails alone")
    func concurrentStartsAnswerEachRequestAsAlone() async throws {
        let s = try await Setup.make("concurrentstarts")
        defer { Task { await s.close() } }
        // 40 distinct contacts, 10 requests for one more contact, 3 bad ones, all at once.
        let bodies: [String] = (0..<40).map { #"{"workflow": "flow", "contact": "G-\#($0)", "attributes": {"n": "\#($0)"}}"# }
            + Array(repeating: #"{"workflow": "flow", "contact": "SAME"}"#, count: 10)
            + [#"{"workflow": "flow", "contact": "deal:D-1"}"#, #"{"workflow": "nope", "contact": "G-X"}"#,
               #"{"workflow": "flow", "contact": ""}"#]
        let replies = try await withThrowingTaskGroup(of: (Int, Int, String?, String?).self) { group in
            for (index, body) in bodies.enumerated() {
                group.addTask {
                    let reply = try await s.server.send("POST", "/v1/instances", token: s.operator_, body: body,
                                                        headers: ["Content-Type": "application/json"])
                    return (index, reply.status, reply.json["id"] as? String, reply.json["contact"] as? String)
                }
            }
            var all: [(Int, Int, String?, String?)] = []
            for try await reply in group { all.append(reply) }
            return all.sorted { $0.0 < $1.0 }
        }
        let distinct = replies.prefix(40)
        #expect(distinct.allSatisfy { $0.1 == 201 }, "\(distinct.map(\.1))")
        #expect(Set(distinct.compactMap(\.2)).count == 40)
        #expect(distinct.allSatisfy { $0.3 == "G-\($0.0)" })
        let same = replies[40..<50]
        #expect(same.filter { $0.1 == 201 }.count == 1, "\(same.map(\.1))")
        #expect(same.filter { $0.1 == 200 }.count == 9)
        #expect(Set(same.compactMap(\.2)).count == 1)
        #expect(replies[50].1 == 400 || replies[50].1 == 422, "\(replies[50])")
        #expect(replies[51].1 == 404, "\(replies[51])")
        #expect(replies[52].1 == 400, "\(replies[52])")
        #expect(try await s.engine.scalar("SELECT count(*) FROM workflow_instances") == 41)
        let attribute: String = try await s.engine.scalar("SELECT attributes ->> 'n' FROM contacts WHERE id = 'G-7'")
        #expect(attribute == "7")
    }
}
