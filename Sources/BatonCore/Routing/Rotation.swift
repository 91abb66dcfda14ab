/// Round-robin positions per team for one batch. A worker first runs the batch against a
/// counting rotation to learn how many positions each team needs, takes that many with one
/// UPDATE per batch (`Store.reserveRotation`), then runs it again with the reserved blocks.
public struct Rotation: Hashable, Sendable {
    private var starts: [String: Int]
    private(set) public var used: [String: Int] = [:]

    /// Positions starting at `starts[team]` (0 for teams not given: a counting run).
    public init(starts: [String: Int] = [:]) { self.starts = starts }

    /// The next position for `team`.
    public mutating func next(_ team: String) -> Int {
        let offset = used[team, default: 0]
        used[team] = offset + 1
        return starts[team, default: 0] + offset
    }
}
