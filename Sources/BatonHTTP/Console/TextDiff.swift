/// A line diff of two texts (longest common subsequence): what the workflows page shows between
/// two versions' files.
public enum TextDiff {
    /// One line of a diff.
    public struct Line: Sendable, Equatable {
        public enum Kind: String, Sendable { case same, added, removed }
        public var kind: Kind
        public var text: String
        public init(_ kind: Kind, _ text: String) {
            self.kind = kind
            self.text = text
        }
    }

    /// The lines of `old` and `new` in order, each kept, removed or added. Files of workflows are
    /// small (hundreds of lines), so the quadratic table is fine; above 2,000 lines a side the
    /// diff is every old line removed and every new line added.
    public static func lines(_ old: String, _ new: String) -> [Line] {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard a.count <= 2000, b.count <= 2000 else { return a.map { Line(.removed, $0) } + b.map { Line(.added, $0) } }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var result: [Line] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                result.append(Line(.same, a[i])); i += 1; j += 1
            } else if j < b.count, i == a.count || table[i][j + 1] >= table[i + 1][j] {
                result.append(Line(.added, b[j])); j += 1
            } else {
                result.append(Line(.removed, a[i])); i += 1
            }
        }
        return result
    }
}
