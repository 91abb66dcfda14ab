@testable import BatonCore
import Foundation
import Testing

/// `workflows apply --dry-run`: what changes between the stored version and the file, step by step.
@Suite struct WorkflowDiffTests {
    static func load(_ text: String) throws -> WorkflowDefinition { try DefinitionLoader.workflow(from: text, file: "wf.yaml") }

    @Test func identicalDefinitionsHaveNoDiff() throws {
        let wf = try DefinitionLoader.workflow(from: example("inbound-lead.yaml"), file: "inbound-lead.yaml")
        #expect(WorkflowDiff.between(wf, wf).isEmpty)
    }

    @Test func stepsAddedRemovedAndChangedFieldByField() throws {
        let old = try Self.load(example("inbound-lead.yaml"))
        var text = try example("inbound-lead.yaml")
        text = text.replacingOccurrences(of: "within: 4h, clock: business_hours", with: "within: 3h, clock: business_hours")
        text = text.replacingOccurrences(of: "notify: [manager, previous_owner]", with: "notify: [manager]")
        text = text.replacingOccurrences(of: "when: { tier: enterprise }", with: "when: { tier: strategic }")
        text = text.replacingOccurrences(of: """
              touched:
                goto: wait-purchase
            """, with: """
              touched:
                notify: { to: [owner, "team:sales-leads"], message: "{{contact.id}} was touched in time." }
                next: thank
              thank:
                goto: wait-purchase
            """)
        text = text.replacingOccurrences(of: """
              lost:
                end: { outcome: no_purchase }
            """, with: "")
        text = text.replacingOccurrences(of: "on_breach: lost", with: "on_breach: done")
        let new = try Self.load(text)
        #expect(WorkflowDiff.between(old, new).lines == [
            "~ step route: assign.rules[1].when: { tier: enterprise } -> { tier: strategic }",
            "~ step first-touch: wait_for_sla.within: 4h -> 3h",
            "~ step escalate-backup: escalate.notify: [manager, previous_owner] -> [manager]",
            "~ step touched: kind goto -> notify",
            "+ step thank (goto)",
            "~ step wait-purchase: wait_for_sla.on_breach: lost -> done",
            "- step lost (end)",
        ])
    }

    @Test func startAndDescriptionChangesComeFirst() throws {
        let old = try Self.load("name: wf\nstart: a\nsteps:\n  a:\n    goto: b\n  b:\n    end: {}\n")
        let new = try Self.load("name: wf\ndescription: Now described.\nstart: z\nsteps:\n  z:\n    goto: a\n  a:\n    goto: b\n  b:\n    end: { outcome: won }\n")
        #expect(WorkflowDiff.between(old, new).lines == [
            "~ start: a -> z",
            "~ description: (none) -> Now described.",
            "+ step z (goto)",
            "~ step b: end.outcome: (none) -> won",
        ])
    }
}
