import Foundation

// The `--json` contracts promise every documented field, `null` when it has no value. Synthesized
// Codable leaves nil optionals out (`encodeIfPresent`); these more specific overloads, visible to
// the synthesized code of Baton's output types and of modules that import Baton (batonctl), write
// `null` instead.
extension KeyedEncodingContainer {
    public mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encode(value, forKey: key) }
    public mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encode(value, forKey: key) }
    public mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encode(value, forKey: key) }
    public mutating func encodeIfPresent(_ value: Date?, forKey key: Key) throws { try encode(value, forKey: key) }
    public mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encode(value, forKey: key) }
    public mutating func encodeIfPresent(_ value: [String]?, forKey key: Key) throws { try encode(value, forKey: key) }
}
