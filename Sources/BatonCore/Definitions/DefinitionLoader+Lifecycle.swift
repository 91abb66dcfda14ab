import Yams

extension DefinitionLoader {
    /// A `lifecycle:` list of stages (team or workflow file): at least one, none twice, each one word.
    static func readStages(_ top: Fields, _ r: NodeReader) -> [String]? {
        guard let stages = r.strings(top, "lifecycle") else { return nil }
        var seen: [String: Int] = [:]
        for stage in stages {
            if let line = seen[stage.text] {
                r.issue(stage.node, stage.path, "stage \"\(stage.text)\" is listed twice (first at line \(line))")
            } else {
                seen[stage.text] = stage.node.mark?.line ?? 1
            }
            if stage.text.contains(where: { $0 == ":" || $0 == "," || $0.isWhitespace }) {
                r.issue(stage.node, stage.path, "a stage is one word (letters, digits, '_' or '-'), not \"\(stage.text)\"")
            }
        }
        if stages.isEmpty, let node = top["lifecycle"] { r.issue(node, "lifecycle", "give at least one stage") }
        return stages.map(\.text)
    }

    /// `starts_on: { stage: STAGE | [STAGE…], from: STAGE | [STAGE…] }`: every stage one of `stages`
    /// (the workflow's, else the team file's, else the defaults).
    static func readStartsOn(_ top: Fields, _ r: NodeReader, _ stages: [String]) -> StartsOn? {
        guard let node = top["starts_on"],
              let f = r.fields(node, "starts_on", allowed: ["stage", "from"],
                               expected: "a mapping with stage (the stage entered) and optionally from, e.g. { stage: at_risk, from: customer }")
        else { return nil }
        let entered = r.strings(f, "stage", required: true)
        let left = f["from"] == nil ? nil : r.strings(f, "from")
        var ok = entered != nil && (f["from"] == nil || left != nil)
        for stage in (entered ?? []) + (left ?? []) where !stages.contains(stage.text) {
            r.issue(stage.node, stage.path, "unknown lifecycle stage \"\(stage.text)\"\(didYouMean(stage.text, stages)); one of: "
                    + "\(stages.joined(separator: ", ")) (the team file's lifecycle: names them; a workflow's lifecycle: lists its own)")
            ok = false
        }
        if let entered, entered.isEmpty, let node = f["stage"] { r.issue(node, f.path("stage"), "give at least one stage"); ok = false }
        if let left, left.isEmpty, let node = f["from"] { r.issue(node, f.path("from"), "give at least one stage, or leave out from"); ok = false }
        if let entered, let left, let node = f["from"], !entered.isEmpty,
           entered.allSatisfy({ stage in left.contains { $0.text == stage.text } }) {
            r.issue(node, f.path("from"), "from names every stage of stage, so no change of stage can start the workflow "
                    + "(a record that stays in its stage does not change)")
            ok = false
        }
        guard ok, let entered else { return nil }
        return StartsOn(stages: entered.map(\.text), from: left?.map(\.text))
    }
}
