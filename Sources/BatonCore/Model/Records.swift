/// The kinds of record Baton owns. A workflow runs on one kind (`subject:`, default `contact`).
public enum RecordKind: String, Hashable, Sendable, Codable, CaseIterable {
    case contact, company, deal, conversation
}

/// A record named as `KIND:ID` (`deal:D-7`, `company:acme`); a contact may be named by its id alone.
///
/// Storage: every record lives in the contacts table. A contact is stored under its plain id; any
/// other kind under `"<kind>:<id>"`, so ids are unique within their kind and one key names a record
/// of any kind everywhere (instances, signals, history). See docs/records.md.
public struct RecordRef: Hashable, Sendable, CustomStringConvertible {
    public var kind: RecordKind
    /// The id within its kind (`D-7` for `deal:D-7`).
    public var id: String

    public init(kind: RecordKind, id: String) {
        self.kind = kind
        self.id = id
    }

    /// Parses `KIND:ID`; a text without a known kind prefix is a contact id. Nil when the id is empty.
    public init?(parsing text: String) {
        for kind in RecordKind.allCases where text.hasPrefix(kind.rawValue + ":") {
            let id = String(text.dropFirst(kind.rawValue.count + 1))
            guard !id.isEmpty else { return nil }
            self.init(kind: kind, id: id)
            return
        }
        guard !text.isEmpty else { return nil }
        self.init(kind: .contact, id: text)
    }

    /// The record stored under `key` (the contacts table's id).
    public init(storageKey key: String) {
        for kind in RecordKind.allCases where kind != .contact && key.hasPrefix(kind.rawValue + ":") {
            self.init(kind: kind, id: String(key.dropFirst(kind.rawValue.count + 1)))
            return
        }
        self.init(kind: .contact, id: key)
    }

    /// The id in the contacts table: the plain id for a contact, `kind:id` for the others.
    public var storageKey: String { kind == .contact ? id : "\(kind.rawValue):\(id)" }

    /// `kind:id`, as the CLI takes it.
    public var description: String { "\(kind.rawValue):\(id)" }

    /// The company a record names in its `company` attribute (`acme` or `company:acme`).
    public static func company(named value: String?) -> RecordRef? {
        guard let value, !value.isEmpty else { return nil }
        let id = value.hasPrefix("company:") ? String(value.dropFirst(8)) : value
        return id.isEmpty ? nil : RecordRef(kind: .company, id: id)
    }

    /// Why `id` cannot be a plain contact id (`--contact`), or nil: ids starting with a kind prefix
    /// name other kinds of record.
    public static func contactIDProblem(_ id: String) -> String? {
        for kind in RecordKind.allCases where id.hasPrefix(kind.rawValue + ":") {
            return "contact id \"\(OneLine.shown(id, limit: ContactFile.maxContactBytes))\" starts with \"\(kind.rawValue):\", which names a record kind; "
                + (kind == .contact ? "give the contact's id without it" : "use --record \(OneLine.shown(id, limit: ContactFile.maxContactBytes))")
        }
        return nil
    }

    /// Reads `--record KIND:ID`, or explains the expected form.
    public static func parseOption(_ text: String) throws(RecordRefError) -> RecordRef {
        let kinds = RecordKind.allCases.map(\.rawValue).joined(separator: "|")
        guard let colon = text.firstIndex(of: ":"), RecordKind(rawValue: String(text[..<colon])) != nil,
              let ref = RecordRef(parsing: text)
        else { throw RecordRefError(message: "a record is KIND:ID with KIND one of \(kinds), e.g. deal:D-7; got \"\(OneLine.shown(text))\"") }
        return ref
    }
}

/// A record reference that could not be read: one line saying what is expected.
public struct RecordRefError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
