import BatonCore
import Foundation

/// How the console writes values: times as `<time>` data (RFC 3339 for the browser's script,
/// which shows them in the viewer's zone, and UTC text for the hover and for no-script readers),
/// durations in words, links with their filters.
enum ConsoleFormat {
    /// `{iso, utc}` for `<time datetime="{{iso}}" title="{{utc}}">{{utc}}</time>`.
    static func time(_ date: Date?) -> [String: Any]? {
        guard let date else { return nil }
        return ["iso": iso(date), "utc": utc(date)]
    }

    /// `2026-03-02T10:00:00Z`. By hand (`RFC3339`): a formatter or calendar per call cost a page of
    /// a few hundred rows tens of milliseconds.
    static func iso(_ date: Date) -> String { RFC3339.string(date) }

    /// `2026-03-02 10:00:00 UTC`.
    static func utc(_ date: Date) -> String {
        var text = RFC3339.string(date)
        text.removeLast()
        return text.replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    /// Seconds as `42 s`, `3 min`, `2.5 h`, `4.1 d`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "–" }
        switch seconds {
        case ..<60: return "\(Int(seconds.rounded())) s"
        case ..<3600: return "\(Int((seconds / 60).rounded())) min"
        case ..<86400: return String(format: "%.1f h", seconds / 3600)
        default: return String(format: "%.1f d", seconds / 86400)
        }
    }

    /// A percentage with one decimal, or – when there is nothing to divide.
    static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "–" : String(format: "%.1f%%", Double(part) * 100 / Double(whole))
    }

    /// `/instances?state=failed&owner=ana`, skipping empty filters.
    static func link(_ path: String, _ items: [(String, String?)]) -> String {
        let query = FormData.query(items)
        return query.isEmpty ? path : path + "?" + query
    }
}
