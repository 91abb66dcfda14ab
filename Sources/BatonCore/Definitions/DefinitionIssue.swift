/// One mistake in a definition file, printed as `FILE:LINE:COLUMN: path.to.field: message`.
public struct DefinitionIssue: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file name as given to the loader.
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based, counted in Unicode scalars.
    public var column: Int
    /// The field, e.g. `steps.first-touch.wait_for_sla.within`; empty for the file as a whole.
    public var path: String
    /// What is wrong and what would be right.
    public var message: String

    /// An issue; control characters and line separators in `file`, `path` and `message` (which
    /// often quote what the user wrote) are kept escaped (`OneLine`), so `description` is one line.
    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = OneLine.escaped(file)
        self.line = line
        self.column = column
        self.path = OneLine.escaped(path)
        self.message = OneLine.escaped(message)
    }

    /// One line: `FILE:LINE:COLUMN: path: message` (the path reads `(file)` when it is empty).
    public var description: String { "\(file):\(line):\(column): \(path.isEmpty ? "(file)" : path): \(message)" }
}

/// Every mistake found in one or more files, sorted by file, line and column.
public struct DefinitionErrors: Error, Sendable, CustomStringConvertible {
    /// The issues, sorted by file, line and column (file order is kept for issues at the same place).
    public var issues: [DefinitionIssue]

    public init(issues: [DefinitionIssue]) {
        self.issues = issues.enumerated().sorted { a, b in
            (a.element.file, a.element.line, a.element.column, a.offset) < (b.element.file, b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }

    /// One line per issue.
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
