/// One mistake in a definition file, as `FILE:LINE:COLUMN: path.to.field: message`.
public struct DefinitionIssue: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based.
    public var column: Int
    /// The field, e.g. `steps.first-touch.wait_for_sla.within`.
    public var path: String
    /// What is wrong and what would be right.
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(path.isEmpty ? "(file)" : path): \(message)" }
}

/// Every mistake found in one or more files, sorted by position.
public struct DefinitionErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [DefinitionIssue]
    public init(issues: [DefinitionIssue]) {
        self.issues = issues.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
    }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Names known in the database, for cross-reference checks; a nil set is not checked.
public struct KnownNames: Sendable {
    public var teams: Set<String>?
    public var calendars: Set<String>?
    public var channels: Set<String>?
    public var members: Set<String>?
    public init(teams: Set<String>? = nil, calendars: Set<String>? = nil, channels: Set<String>? = nil,
                members: Set<String>? = nil) {
        self.teams = teams
        self.calendars = calendars
        self.channels = channels
        self.members = members
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
func suggestion(for word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let w = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(w, Array($0.lowercased()))) }.sorted { $0.1 < $1.1 }
    guard let best = scored.first, best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}

/// ` (did you mean "x"?)` or nothing.
func didYouMean(_ word: String, _ candidates: [String]) -> String {
    suggestion(for: word, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
}
