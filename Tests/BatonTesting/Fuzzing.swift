import Foundation

/// Bounded random-input testing ("fuzzing") of whatever users type: the loaders, the contact-file
/// readers, the HTTP bodies. A fuzz test runs a fixed count of inputs from a fixed seed (a second or
/// two, what `scripts/test` runs), or, with `BATON_FUZZ_SECONDS` set, for that many seconds per input
/// kind from the seed `BATON_FUZZ_SEED` (default: a new one each run, printed so a failure can be
/// repeated), which is what `scripts/chaos` does. In a timed run each kind prints one report line,
/// `fuzz-report<TAB>kind<TAB>inputs<TAB>refused<TAB>failures<TAB>seed`, for `scripts/chaos` to read.
public struct Fuzzer: Sendable {
    /// Seconds per input kind from `BATON_FUZZ_SECONDS`; nil: a fixed count of inputs.
    public static let seconds: Double? = ProcessInfo.processInfo.environment["BATON_FUZZ_SECONDS"]
        .flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }

    /// The seed of a timed run: `BATON_FUZZ_SEED`, else a fresh one (so each run tries new inputs).
    public static let timedSeed: UInt64 = ProcessInfo.processInfo.environment["BATON_FUZZ_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 1...UInt64(UInt32.max))

    /// After this many recorded failures a kind stops early: the first few say what is wrong.
    public static let maxFailures = 20

    /// Fragments that stress YAML, JSON, CSV and mustache, plus NUL, control characters, non-ASCII
    /// text and invalid UTF-8 (a lone continuation byte, an overlong encoding).
    public static let textFragments = [
        ":", ": ", "- ", "{", "}", "[", "]", ",", "\"", "'", "\\", "\n", "\r\n", "\r", "\t", "  ", "#", "&a", "*a", "!!str ",
        "{{", "}}", "{{#x}}", "\u{0}", "\u{1B}", "é", "🚀", "\u{FEFF}", "\u{2028}", "null", "~", "true", "-1", "1e999",
        "99999999999999999999", "9999999w", "1h30m", "next: ", "goto: ", "steps:", "contact", "\"\"", "\"a\nb\"", "<!channel>",
        "'; DROP TABLE x; --", "%s%n", "contact:", "deal:",
    ]

    /// Fragments for JSON: escapes (a lone surrogate, an escaped NUL), nesting, odd numbers and keys.
    public static let jsonFragments = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\"a\":", "\"attributes\":", "\"contact\":", "\"record\":", "\"event\":",
        "\"workflow\":", "\"eventId\":", "\"objectId\":", "\"subscriptionType\":", "\"propertyName\":", "\"propertyValue\":",
        "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\n", "\\u2028", "\"a\\nb\"", "\"\\\"\"", "\"\"", "null", "true", "false",
        "-0", "0", "1e999", "-1e-999", "1.5e308", "123456789012345678901234567890", "0.1", "01", ".5", "[[[[[[[[", "]]]]]]]]",
        "{\"x\":{\"x\":{\"x\":", "}}}", " ", "\n", "\r\n", "\t", "\u{0}", "\u{FEFF}", "é", "🚀", "contact:", "deal:D-7", "%00",
    ]

    public let kind: String
    private var random: SplitMix64
    private let count: Int
    private let deadline: Date?
    public private(set) var inputs = 0
    public private(set) var refused = 0
    public private(set) var failures = 0
    public let seed: UInt64

    /// A run of `kind` inputs: `count` of them from `seed`, or timed (see the type's comment).
    public init(_ kind: String, seed: UInt64, count: Int) {
        self.kind = kind
        self.seed = Self.seconds == nil ? seed : Self.timedSeed ^ seed
        self.random = SplitMix64(seed: self.seed)
        self.count = count
        self.deadline = Self.seconds.map { Date().addingTimeInterval($0) }
    }

    /// Whether to try another input: below the count (or before the deadline) and few failures yet.
    public mutating func more() -> Bool {
        guard failures < Self.maxFailures else { return false }
        if let deadline { return inputs == 0 || Date() < deadline }
        return inputs < count
    }

    /// The next input's number (from 0).
    public mutating func next() -> Int {
        defer { inputs += 1 }
        return inputs
    }

    /// Counts a refused input (an error that passed the checks).
    public mutating func countRefused() { refused += 1 }

    /// Counts a failure; the caller records the issue.
    public mutating func countFailure() { failures += 1 }

    /// A number below `bound`.
    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(random.next() % UInt64(bound)) }

    /// A few mutations of `text`: fragments inserted, bytes removed, cut short, flipped or repeated.
    public mutating func mutate(_ text: String, fragments: [String] = textFragments) -> [UInt8] {
        var bytes = Array(text.utf8)
        for _ in 0..<(below(4) + 1) {
            let position = bytes.isEmpty ? 0 : below(bytes.count)
            switch below(6) {
            case 0: bytes.insert(contentsOf: Array(fragments[below(fragments.count)].utf8), at: position)
            case 1: if !bytes.isEmpty { bytes.remove(at: position) }
            case 2: bytes = Array(bytes.prefix(position))
            case 3: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: random.next()) }
            case 4: bytes.insert(contentsOf: [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF]][below(4)], at: position)
            default:
                let end = min(bytes.count, position + below(40))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            }
        }
        return bytes
    }

    /// `count` fragments in a row.
    public mutating func fragments(_ fragments: [String] = textFragments, count: Int) -> [UInt8] {
        (0..<count).flatMap { _ in Array(fragments[below(fragments.count)].utf8) }
    }

    /// Mostly a mutation of one of `seeds`, every tenth input fragments in a row.
    public mutating func input(seeds: [String], fragments: [String] = textFragments, number: Int) -> [UInt8] {
        number % 10 == 9 ? self.fragments(fragments, count: 30) : mutate(seeds[number % seeds.count], fragments: fragments)
    }

    /// The report line of a timed run (printed only in one).
    public func report() {
        guard Self.seconds != nil else { return }
        print("fuzz-report\t\(kind)\t\(inputs)\t\(refused)\t\(failures)\t\(seed)")
    }

    /// One line: no line breaks, not empty, short enough to read, and no Swift type names
    /// (`DecodingError`, `Swift.`, `Foundation.`) that would mean an error was printed as is.
    public static func isOneClearLine(_ text: String) -> Bool {
        !text.isEmpty && !text.contains(where: \.isNewline) && !text.unicodeScalars.contains(where: isUnclear) && text.count < 2000
            && !["DecodingError", "Swift.", "Foundation.", "codingPath", "debugDescription", "Optional("].contains { text.contains($0) }
    }

    /// NUL, other control characters and line or paragraph separators: they garble a terminal or a log line.
    private static func isUnclear(_ scalar: Unicode.Scalar) -> Bool {
        let category = scalar.properties.generalCategory
        return category == .control || category == .lineSeparator || category == .paragraphSeparator
    }

    /// An input as a failure message shows it: escaped, cut at 300 characters.
    public static func shown(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription
        return bytes.count > 300 ? text + "…" : text
    }
}

/// A small deterministic generator (SplitMix64) for tests that need many varied inputs.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// A generator whose sequence depends only on `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
