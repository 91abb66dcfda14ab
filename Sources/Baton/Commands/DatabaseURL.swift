import Foundation
import Postgres

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

/// The pooler between Baton and PostgreSQL: `--pooler`, else `BATON_POOLER`, else none. `pgbouncer`
/// (or `transaction`) means a pooler in transaction mode (see `Pooling`); `none` a direct connection.
public func pooling(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Pooling {
    let (text, source) = flag.map { ($0, "--pooler") } ?? (environment["BATON_POOLER"] ?? "", "BATON_POOLER")
    guard let pooling = Pooling(name: text) else { throw BatonError.invalid("\(source): none or pgbouncer (got \(text))") }
    return pooling
}

/// Where LISTEN goes: `--listen-url`, else `BATON_LISTEN_URL`, always a direct connection with the
/// database's timeouts; nil when neither is given (then the database URL itself).
public func listenConfig(flag: String?, database: ConnectionConfig, applicationName: String,
                         environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConnectionConfig? {
    guard let url = flag ?? environment["BATON_LISTEN_URL"], !url.isEmpty else { return nil }
    var config = try ConnectionConfig(url, applicationName: applicationName)
    config.timeouts = database.timeouts
    config.pooling = .direct
    return config
}
