import CLibPQ

/// Owns one `PGresult` and clears it exactly once, when the last `QueryResult` or `Row` that
/// reads it goes away.
///
/// `@unchecked Sendable`: the result is never mutated after it is made; libpq's read functions
/// (`PQgetvalue`, `PQntuples`, …) only read it, so concurrent reads from several threads are safe,
/// and `PQclear` runs only in `deinit`, when no reader is left.
final class ResultHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQclear(pointer) }
}

/// The rows and command status of one statement.
public struct QueryResult: Sendable, RandomAccessCollection {
    let handle: ResultHandle?
    /// The column names, in order.
    public let columns: [String]
    let types: [OID]
    /// The number of rows.
    public let count: Int
    /// Rows inserted, updated, deleted, selected… as the command tag reports it (0 when none).
    public let affectedRows: Int
    /// The command tag's verb: `INSERT`, `UPDATE`, `COMMIT`, `ROLLBACK`, …
    public let commandTag: String

    init(_ handle: ResultHandle) {
        self.handle = handle
        let result = handle.pointer
        let fields = Int(PQnfields(result))
        columns = (0..<fields).map { String(cString: PQfname(result, Int32($0))) }
        types = (0..<fields).map { PQftype(result, Int32($0)) }
        count = Int(PQntuples(result))
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        commandTag = String(cString: PQcmdStatus(result)).split(separator: " ").first.map(String.init) ?? ""
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> Row { Row(result: self, index: position) }

    /// The index of the column with this name.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

    func cell(row: Int, column: Int) -> PostgresCell {
        guard let handle, column >= 0, column < columns.count else {
            return PostgresCell(text: nil, type: 0, column: "#\(column)")
        }
        let r = Int32(row), c = Int32(column)
        let text: String? =
            PQgetisnull(handle.pointer, r, c) == 1 ? nil : String(cString: PQgetvalue(handle.pointer, r, c))
        return PostgresCell(text: text, type: types[column], column: columns[column])
    }
}

/// One row of a `QueryResult`.
public struct Row: Sendable {
    let result: QueryResult
    let index: Int

    /// Decodes the column at `column` (0-based).
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        guard column >= 0, column < result.columns.count else {
            throw PostgresError(.decoding, "no column #\(column); the row has \(result.columns.count)")
        }
        return try T.decode(result.cell(row: index, column: column))
    }

    /// Decodes the column named `name`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ name: String) throws -> T {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(.decoding, "no column \"\(name)\" in the result")
        }
        return try T.decode(result.cell(row: index, column: column))
    }

    /// Decodes the column named `name` into the type the context expects.
    public func decode<T: PostgresDecodable>(_ name: String) throws -> T {
        try decode(T.self, name)
    }

    /// The raw cell at `column`.
    public func cell(_ column: Int) -> PostgresCell { result.cell(row: index, column: column) }
}
