import BatonCore
import Testing

@Suite("Sources file")
struct SourcesFileTests {
    @Test("the example maps HubSpot events to starts, signals and owner changes")
    func parses() throws {
        let text = """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: HUBSPOT_CLIENT_SECRET
                events:
                  - { type: contact.creation, start: inbound-lead }
                  - { type: contact.propertyChange, property: lifecyclestage, value: customer, signal: purchased }
                  - { type: contact.propertyChange, property: hubspot_owner_id, owner_changed: true }
            """
        let file = try DefinitionLoader.sources(from: text, file: "s.yaml", workflows: ["inbound-lead"])
        let source = try #require(file.sources.first)
        #expect(source.mapping(type: "contact.creation", property: nil, value: nil)?.action == .start("inbound-lead"))
        #expect(source.mapping(type: "contact.propertyChange", property: "lifecyclestage", value: "customer")?.action == .signal("purchased"))
        #expect(source.mapping(type: "contact.propertyChange", property: "lifecyclestage", value: "lead") == nil)
        #expect(source.mapping(type: "contact.propertyChange", property: "hubspot_owner_id", value: "1")?.action == .ownerChanged)
    }

    @Test("every mistake is reported with its line and field")
    func mistakes() throws {
        let text = """
            sources:
              - name: hubspot
                kind: hubspot
                secret_env: my-secret
                events:
                  - { type: contact.creaton, start: inbound-lead }
                  - { type: contact.creation, start: nope }
                  - { type: contact.propertyChange, signal: purchased }
                  - { type: contact.creation, start: inbound-lead, signal: x }
            """
        #expect(throws: DefinitionErrors.self) { try DefinitionLoader.sources(from: text, file: "s.yaml", workflows: ["inbound-lead"]) }
        do {
            _ = try DefinitionLoader.sources(from: text, file: "s.yaml", workflows: ["inbound-lead"])
        } catch let errors as DefinitionErrors {
            let lines = errors.issues.map(\.description)
            #expect(lines.contains { $0.hasPrefix("s.yaml:4:") && $0.contains("secret_env") })
            #expect(lines.contains { $0.hasPrefix("s.yaml:6:") && $0.contains("did you mean \"contact.creation\"") })
            #expect(lines.contains { $0.hasPrefix("s.yaml:7:") && $0.contains("unknown workflow \"nope\"") })
            #expect(lines.contains { $0.hasPrefix("s.yaml:8:") && $0.contains("property") })
            #expect(lines.contains { $0.hasPrefix("s.yaml:9:") && $0.contains("exactly one") })
        }
    }
}
