import BatonCore

/// A workflow definition drawn as an SVG: steps in rows by their distance from `start`, an arrow
/// for every transition (labelled `met`/`breach` and with branch conditions' order), the steps an
/// instance passed through and the transitions it took highlighted, its current step marked.
public enum WorkflowGraph {
    /// Where each step sits: row (distance from start) and column within the row.
    public struct Layout: Sendable, Equatable {
        public var position: [String: (row: Int, column: Int)]
        public var rows: Int
        public var columns: Int

        public static func == (a: Layout, b: Layout) -> Bool {
            a.rows == b.rows && a.columns == b.columns && a.position.count == b.position.count
                && a.position.allSatisfy { key, value in b.position[key].map { $0 == value } ?? false }
        }
    }

    /// Rows by breadth-first distance from the start step; steps the start cannot reach (a
    /// validated definition has none) go in a last row. Columns keep file order within a row.
    public static func layout(_ definition: WorkflowDefinition) -> Layout {
        var depth: [String: Int] = [definition.start: 0]
        var queue = [definition.start]
        while !queue.isEmpty {
            let id = queue.removeFirst()
            for next in definition.step(id)?.successors ?? [] where depth[next] == nil && definition.step(next) != nil {
                depth[next] = depth[id]! + 1
                queue.append(next)
            }
        }
        let lastRow = (depth.values.max() ?? 0) + 1
        var position: [String: (row: Int, column: Int)] = [:]
        var filled: [Int: Int] = [:]
        for step in definition.steps {
            let row = depth[step.id] ?? lastRow
            position[step.id] = (row, filled[row, default: 0])
            filled[row, default: 0] += 1
        }
        return Layout(position: position, rows: (filled.keys.max() ?? 0) + 1, columns: max(1, filled.values.max() ?? 1))
    }

    /// The transitions of a path of step ids: consecutive distinct pairs.
    public static func transitions(_ path: [String]) -> Set<String> {
        var result = Set<String>()
        for (a, b) in zip(path, path.dropFirst()) where a != b { result.insert("\(a)->\(b)") }
        return result
    }

    /// The graph as SVG. `path` is the sequence of steps an instance went through (its timeline's
    /// steps), `current` its step now; both may be empty for a plain definition.
    public static func svg(_ definition: WorkflowDefinition, path: [String] = [], current: String? = nil) -> String {
        let layout = layout(definition)
        let nodeWidth = 150.0, nodeHeight = 40.0, gapX = 30.0, gapY = 44.0, margin = 12.0
        let width = margin * 2 + Double(layout.columns) * nodeWidth + Double(layout.columns - 1) * gapX
        let height = margin * 2 + Double(layout.rows) * nodeHeight + Double(layout.rows - 1) * gapY + 30  // room for curves under the last row
        let visited = Set(path), taken = transitions(path)
        func center(_ id: String) -> (x: Double, y: Double)? {
            guard let p = layout.position[id] else { return nil }
            let rowCount = Double(layout.position.values.filter { $0.row == p.row }.count)
            let rowWidth = rowCount * nodeWidth + (rowCount - 1) * gapX
            let x0 = (width - rowWidth) / 2
            return (x0 + Double(p.column) * (nodeWidth + gapX) + nodeWidth / 2, margin + Double(p.row) * (nodeHeight + gapY) + nodeHeight / 2)
        }
        let f = SVGChart.f, esc = SVGChart.escape
        var svg = "<svg class=\"graph\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(esc("Steps of \(definition.name)"))\">"
        svg += "<title>\(esc("Steps of \(definition.name)"))</title>"
        svg += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"arrowhead\"/></marker></defs>"
        // Edges first, so nodes draw over them.
        for step in definition.steps {
            guard let from = center(step.id) else { continue }
            let labelled: [(String, String)]
            switch step.action {
            case .waitForSLA(_, let met, let breach): labelled = [(met, "met"), (breach, "breach")]
            case .branch(let branch):
                labelled = branch.cases.enumerated().map { ($1.next, "case \($0 + 1)") } + [(branch.otherwise, "otherwise")]
            default: labelled = step.successors.map { ($0, "") }
            }
            // Two transitions to one step (met and breach both to `done`) are one arrow with both labels.
            var merged: [(String, String)] = []
            for (target, label) in labelled {
                if let index = merged.firstIndex(where: { $0.0 == target }) {
                    merged[index].1 += label.isEmpty ? "" : (merged[index].1.isEmpty ? "" : ", ") + label
                } else {
                    merged.append((target, label))
                }
            }
            for (target, label) in merged {
                guard let to = center(target), let fromRow = layout.position[step.id]?.row, let toRow = layout.position[target]?.row else { continue }
                let cls = (taken.contains("\(step.id)->\(target)") ? "edge taken" : "edge") + (toRow > fromRow ? "" : " back")
                let d: String, lx: Double, ly: Double
                if toRow > fromRow {
                    d = "M\(f(from.x)),\(f(from.y + nodeHeight / 2)) L\(f(to.x)),\(f(to.y - nodeHeight / 2))"
                    (lx, ly) = ((from.x + to.x) / 2 + 4, (from.y + to.y) / 2)
                } else if toRow < fromRow {
                    // A loop back up: from the source's top to the target's bottom, bowed sideways.
                    let bow = (to.x >= from.x ? 1.0 : -1.0) * 50
                    let (x1, y1, x2, y2) = (from.x + 12, from.y - nodeHeight / 2, to.x + 12, to.y + nodeHeight / 2)
                    let (cx, cy) = ((x1 + x2) / 2 + bow, (y1 + y2) / 2)
                    d = "M\(f(x1)),\(f(y1)) Q\(f(cx)),\(f(cy)) \(f(x2)),\(f(y2))"
                    (lx, ly) = ((x1 + x2) / 2 + bow / 2 + 4, cy)
                } else {
                    // Within a row: under the row, from bottom to bottom.
                    let (x1, x2, y) = (from.x, to.x, from.y + nodeHeight / 2)
                    d = "M\(f(x1)),\(f(y)) Q\(f((x1 + x2) / 2)),\(f(y + gapY * 0.9)) \(f(x2)),\(f(y))"
                    (lx, ly) = ((x1 + x2) / 2, y + gapY * 0.45 + 10)
                }
                svg += "<path class=\"\(cls)\" d=\"\(d)\" marker-end=\"url(#arrow)\"><title>\(esc("\(step.id) → \(target)\(label.isEmpty ? "" : " (\(label))")"))</title></path>"
                if !label.isEmpty {
                    svg += "<text class=\"edge-label\" x=\"\(f(lx))\" y=\"\(f(ly))\">\(esc(label))</text>"
                }
            }
        }
        for step in definition.steps {
            guard let c = center(step.id) else { continue }
            var cls = "node"
            if visited.contains(step.id) { cls += " visited" }
            if step.id == current { cls += " current" }
            svg += "<g class=\"\(cls)\"><title>\(esc("\(step.id): \(step.action.kind)\(step.id == current ? " (current step)" : "")"))</title>"
            svg += "<rect x=\"\(f(c.x - nodeWidth / 2))\" y=\"\(f(c.y - nodeHeight / 2))\" width=\"\(f(nodeWidth))\" height=\"\(f(nodeHeight))\" rx=\"6\"/>"
            svg += "<text class=\"step-id\" x=\"\(f(c.x))\" y=\"\(f(c.y - 3))\" text-anchor=\"middle\">\(esc(truncate(step.id, 20)))</text>"
            svg += "<text class=\"step-kind\" x=\"\(f(c.x))\" y=\"\(f(c.y + 12))\" text-anchor=\"middle\">\(esc(step.action.kind))</text></g>"
        }
        svg += "</svg>"
        return svg
    }

    static func truncate(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }
}
