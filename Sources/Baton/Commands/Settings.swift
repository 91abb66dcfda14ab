import BatonCore
import Foundation

/// One setting of baton-worker or baton-server: its key (the flag name with `_`), where else it
/// may come from, its default and how a value is checked.
public struct Setting: Sendable {
    /// The key in the file and in `--print-config`, e.g. `batch_size`.
    public let key: String
    /// The environment variables read for it, first found wins (`BATON_BATCH_SIZE`).
    public let environment: [String]
    /// The value when nothing gives one; nil when unset means something else (then `unsetNote` says what).
    public let defaultValue: String?
    /// What an unset setting without a default means, for `--print-config` (`host-pid`, `off`).
    public let unsetNote: String
    /// True for a flag without a value (`--until-idle`): `true` or `false`.
    public let isSwitch: Bool
    /// True when the value may hold a password: never printed or echoed as written.
    public let isSecret: Bool
    /// Nil when `value` is acceptable, else what is wrong with it (`not a number`).
    public let problem: @Sendable (String) -> String?

    /// The flag that gives this setting, e.g. `--batch-size`.
    public var flag: String { "--" + key.replacingOccurrences(of: "_", with: "-") }

    /// A setting read from `--key`, then `BATON_KEY` (or `environment`), then the file, then `defaultValue`.
    public init(_ key: String, default defaultValue: String? = nil, unset unsetNote: String = "unset",
                environment: [String]? = nil, secret: Bool = false,
                check problem: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.key = key
        self.environment = environment ?? ["BATON_" + key.uppercased()]
        self.defaultValue = defaultValue
        self.unsetNote = unsetNote
        self.isSwitch = false
        self.isSecret = secret
        self.problem = problem
    }

    /// A flag without a value (`--until-idle`): `true`/`false` in the file and the environment.
    public static func toggle(_ key: String) -> Setting {
        Setting(key, switch: true)
    }

    /// A whole number of at least `minimum` (and at most `maximum`).
    public static func number(_ key: String, default value: Int? = nil, unset: String = "unset", minimum: Int,
                              maximum: Int = Int.max) -> Setting {
        Setting(key, default: value.map(String.init), unset: unset) { text in
            guard let n = Int(text) else { return "not a number" }
            if n < minimum { return "must be at least \(minimum)" }
            if n > maximum { return "must be at most \(maximum)" }
            return nil
        }
    }

    /// A duration: `500ms`, `1s`, `2m`, `1h`.
    public static func duration(_ key: String, default value: String) -> Setting {
        Setting(key, default: value) { parseDuration($0) == nil ? "bad duration (e.g. 500ms, 10s, 2m)" : nil }
    }

    /// One of `choices`.
    public static func choice(_ key: String, default value: String? = nil, unset: String = "unset", _ choices: [String]) -> Setting {
        Setting(key, default: value, unset: unset) { choices.contains($0) ? nil : "one of \(choices.joined(separator: ", "))" }
    }

    private init(_ key: String, switch: Bool) {
        self.key = key
        self.environment = ["BATON_" + key.uppercased()]
        self.defaultValue = "false"
        self.unsetNote = "false"
        self.isSwitch = true
        self.isSecret = false
        self.problem = { _ in nil }
    }
}

/// Where a setting's value came from.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// A command-line flag, e.g. `--concurrency`.
    case flag(String)
    /// An environment variable, e.g. `BATON_CONCURRENCY`.
    case environment(String)
    /// A line of the configuration file.
    case file(path: String, line: Int)
    /// Nothing gave it.
    case byDefault

    /// `--concurrency`, `BATON_CONCURRENCY`, `baton.yaml:3`, `default`.
    public var description: String {
        switch self {
        case .flag(let flag): return flag
        case .environment(let name): return name
        case .file(let path, let line): return "\(path):\(line)"
        case .byDefault: return "default"
        }
    }
}

/// The settings a program runs with, each with its source. Read with `Settings.resolve`.
public struct Settings: Sendable {
    /// One setting's effective value (nil: unset) and where it came from.
    public struct Value: Sendable {
        /// The value, normalised (`true`/`false` for toggles); nil when unset.
        public let value: String?
        /// Where it came from.
        public let source: SettingSource
    }

    /// The program's settings, in the order they were declared.
    public let catalogue: [Setting]
    /// The value of each key.
    public let values: [String: Value]
    /// The configuration file read (`--config`, `BATON_CONFIG` or `./baton.yaml`), if any.
    public let file: String?

    /// The value of `key`, nil when unset.
    public subscript(key: String) -> String? { values[key]?.value }

    /// Where `key`'s value came from.
    public func source(_ key: String) -> SettingSource { values[key]?.source ?? .byDefault }

    /// `key` as a number (checked when read).
    public func int(_ key: String) -> Int? { self[key].flatMap { Int($0) } }

    /// A toggle's value.
    public func bool(_ key: String) -> Bool { self[key] == "true" }

    /// `key` as a duration (checked when read).
    public func duration(_ key: String) -> Duration? { self[key].flatMap(parseDuration) }

    /// Reads every setting of `catalogue`: the flag (`flags`, by key, nil when not given), then the
    /// environment, then the configuration file, then the default. The file is `configFlag`, then
    /// `BATON_CONFIG`, then `./baton.yaml` when it exists; it may also hold `otherKeys` (the other
    /// program's settings), which are ignored. A bad value is an error naming its source
    /// (`BATON_CONCURRENCY=abc: not a number`, `baton.yaml:3: concurrency: not a number`).
    /// `spelled` names the flag as given where it is not the key's own (`--no-until-idle`), for
    /// the source `--print-config` shows.
    public static func resolve(_ catalogue: [Setting], otherKeys: [String], flags: [String: String],
                               spelled: [String: String] = [:],
                               configFlag: String?, environment: [String: String]) throws(BatonError) -> Settings {
        let file = try readFile(configFlag: configFlag, environment: environment,
                                known: catalogue.map(\.key) + otherKeys.filter { key in !catalogue.contains { $0.key == key } })
        var values: [String: Value] = [:]
        for setting in catalogue {
            values[setting.key] = try resolve(setting, flag: flags[setting.key], spelled: spelled[setting.key],
                                              environment: environment, file: file)
        }
        // database_url and database_url_file name the same thing: the one from the stronger source wins.
        if let url = values["database_url"], let path = values["database_url_file"], url.value != nil, path.value != nil {
            let rank = { (source: SettingSource) -> Int in
                switch source {
                case .flag: return 0
                case .environment: return 1
                case .file: return 2
                case .byDefault: return 3
                }
            }
            if rank(url.source) == rank(path.source) {
                throw .invalid("give the database URL once: \(url.source) and \(path.source) both do (database_url or database_url_file)")
            }
            let loser = rank(url.source) < rank(path.source) ? "database_url_file" : "database_url"
            values[loser] = Value(value: nil, source: .byDefault)
        }
        return Settings(catalogue: catalogue, values: values, file: file?.path)
    }

    private static func resolve(_ setting: Setting, flag: String?, spelled: String?, environment: [String: String],
                                file: SettingsFile?) throws(BatonError) -> Value {
        func checked(_ raw: String, _ source: SettingSource, shown: String, got: String) throws(BatonError) -> Value {
            var value = raw
            if setting.isSwitch {
                switch raw.lowercased() {
                case "true", "yes", "on", "1": value = "true"
                case "false", "no", "off", "0": value = "false"
                default: throw .invalid("\(shown): true or false\(got)")
                }
            }
            if let problem = setting.problem(value) { throw .invalid("\(shown): \(problem)\(got)") }
            if setting.key == "database_url", case .file = source, hasPassword(value) {
                throw .invalid("\(shown): the URL holds a password; keep it out of the file "
                               + "(database_url_file, DATABASE_URL, PGPASSWORD or ~/.pgpass)")
            }
            return Value(value: value, source: source)
        }
        // The value is echoed in a message unless it may hold a password.
        let echo = { (raw: String) in setting.isSecret ? maskPassword(raw) : raw }
        if let flag {
            let name = spelled ?? setting.flag
            return try checked(flag, .flag(name), shown: name, got: " (got \(echo(flag)))")
        }
        for name in setting.environment {
            if let raw = environment[name], !raw.isEmpty {
                return try checked(raw, .environment(name), shown: "\(name)=\(echo(raw))", got: "")
            }
        }
        if let file, let entry = file.entries[setting.key] {
            return try checked(entry.value, .file(path: file.path, line: entry.line),
                               shown: "\(file.path):\(entry.line): \(setting.key)", got: " (got \(echo(entry.value)))")
        }
        return Value(value: setting.defaultValue, source: .byDefault)
    }

    private static func readFile(configFlag: String?, environment: [String: String], known: [String]) throws(BatonError) -> SettingsFile? {
        let path: String
        let named: String?
        if let configFlag {
            (path, named) = (configFlag, "--config")
        } else if let fromEnvironment = environment["BATON_CONFIG"], !fromEnvironment.isEmpty {
            (path, named) = (fromEnvironment, "BATON_CONFIG")
        } else if FileManager.default.fileExists(atPath: "baton.yaml") {
            (path, named) = ("baton.yaml", nil)
        } else {
            return nil
        }
        // Through a FileHandle, so that `--config /dev/null` (no settings from any file) reads as empty.
        let handle = FileHandle(forReadingAtPath: path)
        defer { try? handle?.close() }
        guard let handle, let data = try? handle.readToEnd() ?? Data(), let text = String(data: data, encoding: .utf8) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw .invalid("\(named ?? "configuration file") \(path): \(exists ? "cannot be read" : "no such file")")
        }
        do {
            return try SettingsFile(text: text, path: path, known: known)
        } catch {
            throw .invalid(error.description)
        }
    }
}

/// True when a libpq URL (`postgresql://user:secret@host/db`) or key=value string
/// (`password=secret`) carries a password.
public func hasPassword(_ url: String) -> Bool {
    maskPassword(url) != url
}

/// The URL without its password, safe to print: `postgresql://user@host/db`, `host=h user=u`.
public func maskPassword(_ url: String) -> String {
    if let scheme = url.range(of: "://") {
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { "/?".contains($0) } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@"),
              let colon = rest[..<at].firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + String(url[at...])
    }
    // key=value: drop `password=...` (a value may be quoted).
    var kept: [String] = []
    var skipping = false
    for word in url.split(separator: " ", omittingEmptySubsequences: false) {
        if skipping {
            if word.hasSuffix("'") { skipping = false }
            continue
        }
        let lower = word.lowercased()
        if lower.hasPrefix("password=") {
            let value = word.dropFirst("password=".count)
            if value.hasPrefix("'") && !(value.count > 1 && value.hasSuffix("'")) { skipping = true }
            continue
        }
        kept.append(String(word))
    }
    return kept.joined(separator: " ")
}

/// `500ms`, `2s`, `1m`, `1h` into a Duration; nil for anything else, zero, or more than a year.
public func parseDuration(_ text: String) -> Duration? {
    if text.hasSuffix("ms"), let n = Int(text.dropLast(2)), n > 0 { return .milliseconds(n) }
    let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
    // At most a year: longer is a typo, and a huge number must not trap on its way to an Int.
    guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n > 0,
          n * Double(unit) <= 366 * 86_400 else { return nil }
    return .milliseconds(Int(n * Double(unit) * 1000))
}
