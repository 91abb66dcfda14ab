import Foundation
import Logging
import Synchronization

/// How Baton's executables write their logs: `text` (one readable line) or `json` (one JSON object
/// per line with `ts`, `level`, `label`, `msg` and the metadata as fields), to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// JSON when standard error is not a terminal (a pipe, a file, a container log), text otherwise.
    public static var automatic: LogFormat { isatty(STDERR_FILENO) == 1 ? .text : .json }

    /// Installs the process's log handler. Call once, first thing in `main`. The level and the
    /// format can be changed later with `LogControl.shared.set` (SIGHUP).
    public func bootstrap(level: Logger.Level) {
        LogControl.shared.set(level: level, format: self)
        LoggingSystem.bootstrap { label in SwitchableLogHandler(label: label) }
    }
}

/// The level and format every handler of the process reads at each line, so that both can
/// change while the process runs. One atomic word (no lock: every log call, also one below the
/// level, reads the level).
public final class LogControl: Sendable {
    /// The process's one instance, set by `LogFormat.bootstrap`.
    public static let shared = LogControl()
    private static let levels = Logger.Level.allCases
    /// The level's index in `Logger.Level.allCases`, plus 16 for JSON.
    private let state = Atomic<Int>(LogControl.levels.firstIndex(of: .info)!)

    /// The level lines must reach to be written.
    public var level: Logger.Level { Self.levels[state.load(ordering: .relaxed) % 16] }
    /// How lines are written.
    public var format: LogFormat { state.load(ordering: .relaxed) >= 16 ? .json : .text }

    /// From the next line on, writes lines at `level` and above in `format`.
    public func set(level: Logger.Level, format: LogFormat) {
        state.store(Self.levels.firstIndex(of: level)! + (format == .json ? 16 : 0), ordering: .relaxed)
    }
}

/// The handler `LogFormat.bootstrap` installs: text or JSON and the level as `LogControl` says
/// at each line. A level set on one logger (`logger.logLevel = .debug`) holds for that logger only.
struct SwitchableLogHandler: LogHandler {
    private var text: StreamLogHandler
    private var json: JSONLogHandler
    private var ownLevel: Logger.Level?

    init(label: String) {
        text = StreamLogHandler.standardError(label: label)
        text.logLevel = .trace
        json = JSONLogHandler(label: label)
        json.logLevel = .trace
    }

    var logLevel: Logger.Level {
        get { ownLevel ?? LogControl.shared.level }
        set { ownLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { json.metadata }
        set {
            json.metadata = newValue
            text.metadata = newValue
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { json[metadataKey: key] }
        set {
            json[metadataKey: key] = newValue
            text[metadataKey: key] = newValue
        }
    }

    func log(event: LogEvent) {
        switch LogControl.shared.format {
        case .text: text.log(event: event)
        case .json: json.log(event: event)
        }
    }
}

/// One JSON object per line on standard error. Writes are whole lines under a lock, so lines from
/// concurrent tasks never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        for (key, value) in metadata { fields[key] = Self.plain(value) }
        for (key, value) in event.metadata ?? [:] { fields[key] = Self.plain(value) }
        fields["ts"] = Self.timestamp()
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["msg"] = event.message.description
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        LogSink.shared.write(data)
    }

    private static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(plain)
        case .dictionary(let d): return d.mapValues(plain)
        }
    }

    /// RFC 3339 UTC with milliseconds, formatted by hand (no formatter allocated per line).
    static func timestamp(_ date: Date = Date()) -> String {
        let seconds = date.timeIntervalSince1970
        var time = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        let millis = Int((seconds - seconds.rounded(.down)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}

/// Standard error, written whole lines at a time. `@unchecked Sendable`: the handle is only used under `lock`.
final class LogSink: @unchecked Sendable {
    static let shared = LogSink()
    private let lock = NSLock()
    func write(_ data: Data) {
        lock.withLock { FileHandle.standardError.write(data) }
    }
}
