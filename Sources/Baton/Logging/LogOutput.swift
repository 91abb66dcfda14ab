import Foundation
import Logging

/// How Baton's executables write their logs: `text` (one readable line) or `json` (one JSON object
/// per line with `ts`, `level`, `label`, `msg` and the metadata as fields), to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// JSON when standard error is not a terminal (a pipe, a file, a container log), text otherwise.
    public static var automatic: LogFormat { isatty(STDERR_FILENO) == 1 ? .text : .json }

    /// Installs the process's log handler. Call once, first thing in `main`.
    public func bootstrap(level: Logger.Level) {
        let format = self
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
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
