import Yams

/// The transitions of a workflow as read from the file, kept even when some steps are wrong,
/// so loops and unreachable steps are found along with every other mistake.
struct StepGraph {
    struct Edge {
        let from: String
        let target: String
        let node: Node
        let path: String
    }

    /// Step ids in file order.
    private(set) var order: [String] = []
    private(set) var keyNodes: [String: Node] = [:]
    /// Whether each step waits (`wait_for_sla`); a step of unknown kind counts as waiting, so it never closes a loop.
    private(set) var isWait: [String: Bool] = [:]
    private(set) var edges: [Edge] = []
    /// The steps whose transitions could not all be read: they may lead anywhere.
    private(set) var incomplete: Set<String> = []

    mutating func add(_ id: String, keyNode: Node, _ read: StepRead) {
        order.append(id)
        keyNodes[id] = keyNode
        isWait[id] = read.kind.map { $0 == "wait_for_sla" } ?? true
        edges += read.edges
        if !read.complete { incomplete.insert(id) }
    }

    func successors(_ id: String) -> [String] { edges.filter { $0.from == id }.map(\.target) }
}

/// What reading one step yields: the step when it is entirely right, and its transitions in any case.
struct StepRead {
    var step: Step?
    /// The step's kind, when it has exactly one.
    var kind: String?
    var edges: [StepGraph.Edge] = []
    /// False when a transition is missing or not text.
    var complete = true
}

extension DefinitionLoader {
    /// Reports each step no transition leads to from `start`, judged on the file as it is: a
    /// transition to an unknown step goes to the step it most likely meant (the "did you mean"
    /// one) or nowhere, so a typo neither hides the other mistakes nor makes the step it meant look
    /// unreachable. Only when a step whose transitions could not be read is reachable is nothing
    /// reported: it may lead anywhere.
    static func checkReachable(_ graph: StepGraph, from start: String, _ r: NodeReader) {
        let known = Set(graph.order)
        func resolve(_ target: String) -> String? { known.contains(target) ? target : suggestion(for: target, in: graph.order) }
        guard let first = resolve(start) else { return }
        var reached: Set<String> = [first]
        var queue = [first]
        while let id = queue.popLast() {
            if graph.incomplete.contains(id) { return }
            for next in graph.successors(id).compactMap(resolve) where reached.insert(next).inserted { queue.append(next) }
        }
        for id in graph.order where !reached.contains(id) {
            r.issue(graph.keyNodes[id], "steps.\(id)", "unreachable step: no transition leads here from \"\(start)\" (remove it or go to it)")
        }
    }

    /// Reports each loop of steps none of which waits: an instance would go round it forever.
    /// One issue per group of such steps (strongly connected component), at its first step in file order.
    static func checkLoops(_ graph: StepGraph, _ r: NodeReader) {
        let nodes = graph.order.filter { graph.isWait[$0] == false }
        let nodeSet = Set(nodes)
        func next(_ id: String) -> [String] { graph.successors(id).filter { nodeSet.contains($0) } }

        // Tarjan's algorithm.
        var index: [String: Int] = [:]
        var low: [String: Int] = [:]
        var stack: [String] = []
        var onStack: Set<String> = []
        var components: [[String]] = []
        func connect(_ v: String) {
            index[v] = index.count
            low[v] = index[v]
            stack.append(v)
            onStack.insert(v)
            for w in next(v) {
                if index[w] == nil {
                    connect(w)
                    low[v] = min(low[v]!, low[w]!)
                } else if onStack.contains(w) {
                    low[v] = min(low[v]!, index[w]!)
                }
            }
            if low[v] == index[v] {
                var component: [String] = []
                while let w = stack.popLast() {
                    onStack.remove(w)
                    component.append(w)
                    if w == v { break }
                }
                components.append(component)
            }
        }
        for v in nodes where index[v] == nil { connect(v) }

        for component in components {
            let members = Set(component)
            guard let first = nodes.first(where: members.contains) else { continue }
            guard component.count > 1 || next(first).contains(first) else { continue }
            let loop = cycle(through: first, within: members, next)
            r.issue(graph.keyNodes[first], "steps.\(first)",
                    "a loop with no wait in it: \(loop.joined(separator: " -> ")) would run forever (put a wait_for_sla in the loop)")
        }
    }

    /// The shortest path from `start` back to itself inside `members`, as step ids `start -> … -> start`.
    private static func cycle(through start: String, within members: Set<String>, _ next: (String) -> [String]) -> [String] {
        var parent: [String: String] = [:]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let v = queue[head]
            head += 1
            for w in next(v) where members.contains(w) {
                if w == start {
                    var path = [v]
                    while let p = parent[path[0]] { path.insert(p, at: 0) }
                    return (path.first == start ? path : [start] + path) + [start]
                }
                if parent[w] == nil, w != start {
                    parent[w] = v
                    queue.append(w)
                }
            }
        }
        return [start, start]
    }
}
