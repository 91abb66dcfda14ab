/// Host names as channel files give them and as Baton's clients check them.
public enum HostName {
    /// A DNS name (letters, digits, hyphens; labels of at most 63 between dots) or an IPv4 or IPv6
    /// address (IPv6 without brackets).
    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        if text.contains(":") {
            return text.unicodeScalars.allSatisfy { $0 == ":" || $0 == "." || $0.properties.isASCIIHexDigit }
        }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0 == "-" || ("a"..."z").contains($0) || ("A"..."Z").contains($0)
                    || ("0"..."9").contains($0) }
        }
    }

    /// `localhost`, an address in 127.0.0.0/8, or `::1` (with or without brackets).
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        let ipv4Loopback = octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        return bare == "localhost" || bare == "::1" || ipv4Loopback
    }
}
