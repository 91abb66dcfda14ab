import Foundation

/// The database URL the executables were given: `--database-url`, else the contents of
/// `--database-url-file` (trimmed; keeps the URL out of `ps`), else nil (then `DATABASE_URL` and
/// libpq's `PG*` variables apply).
public func databaseURL(flag: String?, file: String?) throws -> String? {
    if flag != nil && file != nil { throw BatonError.invalid("give --database-url or --database-url-file, not both") }
    guard let file else { return flag }
    guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
        throw BatonError.invalid("--database-url-file: cannot read \(file)")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}
