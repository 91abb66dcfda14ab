import Crypto
import Foundation

/// Checking the signatures of inbound webhooks. Pure: the time is a value.
public enum InboundSignature {
    /// How far a signed timestamp may be from now.
    public static let tolerance: Double = 300

    /// HubSpot's v3 signature: `X-HubSpot-Signature-v3` is base64(HMAC-SHA256(secret, method + uri +
    /// body + timestamp)), `X-HubSpot-Request-Timestamp` milliseconds since 1970, at most 5 minutes
    /// from `now`. Returns nil when valid, else why not (for the log; the caller answers 401).
    public static func checkHubSpot(secret: String, method: String, uri: String, body: Data, timestamp: String?,
                                    signature: String?, now: Date) -> String? {
        guard let timestamp, let millis = Double(timestamp) else { return "missing or malformed X-HubSpot-Request-Timestamp" }
        guard abs(now.timeIntervalSince1970 - millis / 1000) <= tolerance else { return "the request timestamp is more than 5 minutes off" }
        guard let signature, let given = Data(base64Encoded: signature) else { return "missing or malformed X-HubSpot-Signature-v3" }
        var message = Data((method + uri).utf8)
        message.append(body)
        message.append(Data(timestamp.utf8))
        let key = SymmetricKey(data: Data(secret.utf8))
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: message, using: key) ? nil : "the signature does not match"
    }

    /// The signature HubSpot would send (for tests and for documentation).
    public static func hubSpotSignature(secret: String, method: String, uri: String, body: Data, timestamp: String) -> String {
        var message = Data((method + uri).utf8)
        message.append(body)
        message.append(Data(timestamp.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Baton's own scheme (as outbound webhooks): `Baton-Signature: t=<unix seconds>,v1=<hex
    /// HMAC-SHA256("<t>.<raw body>")>`, `t` at most 5 minutes from `now`.
    public static func checkBaton(secret: String, body: Data, header: String?, now: Date) -> String? {
        guard let header else { return "missing Baton-Signature" }
        var t: String?, v1: String?
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { continue }
            if kv[0] == "t" { t = kv[1] } else if kv[0] == "v1" { v1 = kv[1] }
        }
        guard let t, let seconds = Double(t), let v1, let given = hexBytes(v1) else { return "malformed Baton-Signature" }
        guard abs(now.timeIntervalSince1970 - seconds) <= tolerance else { return "the signature's timestamp is more than 5 minutes off" }
        var message = Data("\(t).".utf8)
        message.append(body)
        let key = SymmetricKey(data: Data(secret.utf8))
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: message, using: key) ? nil : "the signature does not match"
    }

    /// The header Baton's scheme sends for `body` at `t`.
    public static func batonSignature(secret: String, body: Data, t: Int) -> String {
        var message = Data("\(t).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(t),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func hexBytes(_ text: String) -> Data? {
        guard text.count % 2 == 0 else { return nil }
        var data = Data()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            data.append(byte)
            index = next
        }
        return data
    }
}
