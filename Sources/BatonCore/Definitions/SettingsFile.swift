import Yams

/// A configuration file of baton-worker and baton-server (`baton.yaml`): one flat YAML mapping
/// whose keys are the programs' flag names with `_` (`batch_size: 50`), each with the line it is
/// on, so that a bad value can be reported as `baton.yaml:3`. Values are kept as written (YAML's
/// own typing is not applied): the reader of each setting checks them.
public struct SettingsFile: Sendable {
    /// One `key: value` line.
    public struct Entry: Sendable, Equatable {
        /// The key as written.
        public let key: String
        /// The value as written, without quotes.
        public let value: String
        /// The line of the key, from 1.
        public let line: Int
    }

    /// The path the file was read from, as given (used in messages: `baton.yaml:3`).
    public let path: String
    /// The entries by key. A key written with an empty or `null` value is absent.
    public let entries: [String: Entry]

    /// Parses `text`. `known` are the keys the file may hold (both programs' keys: one file may
    /// serve both); any other key is an error naming the line and the nearest known key.
    public init(text: String, path: String, known: [String]) throws(SettingsFileError) {
        self.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SettingsFileError(description: "\(path): not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root else {
            entries = [:]
            return
        }
        guard case .mapping(let mapping) = root else {
            throw SettingsFileError(description: "\(path):\(root.mark?.line ?? 1): expected `key: value` lines (a flat mapping)")
        }
        var entries: [String: Entry] = [:]
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 1
            guard case .scalar(let keyScalar) = keyNode else {
                throw SettingsFileError(description: "\(path):\(line): a key must be a plain name")
            }
            let key = keyScalar.string
            guard known.contains(key) else {
                throw SettingsFileError(description: "\(path):\(line): \(key): unknown setting\(didYouMean(key, known))")
            }
            if let first = seen[key] {
                throw SettingsFileError(description: "\(path):\(line): \(key): given twice (first on line \(first))")
            }
            seen[key] = line
            guard case .scalar(let scalar) = valueNode else {
                throw SettingsFileError(description: "\(path):\(line): \(key): a single value, not a list or a mapping")
            }
            let isNull = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            if isNull { continue }
            entries[key] = Entry(key: key, value: scalar.string, line: line)
        }
        self.entries = entries
    }
}

/// A configuration file that cannot be used: one line, with `file:line` and the key.
public struct SettingsFileError: Error, CustomStringConvertible, Sendable {
    /// The message, e.g. `baton.yaml:3: concurency: unknown setting (did you mean "concurrency"?)`.
    public let description: String
}
