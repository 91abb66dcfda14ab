import BatonCore
import Foundation

/// An email channel's server given as one URL in a variable (`smtp_url_env`):
/// `smtp://USER:PASSWORD@HOST:PORT`, user and password percent-encoded and optional (both or
/// neither), port 587 by default. The URL holds the password: nothing here ever repeats it.
struct SMTPServerURL: Equatable {
    var host: String
    var port: Int
    var username: String?
    var password: String?

    /// The server `text` names, or why it names none, in one line that does not quote the text.
    static func parse(_ text: String, variable: String) -> Result<SMTPServerURL, SMTPServerURLError> {
        let problem = SMTPServerURLError(
            "the variable \(variable) does not hold an smtp://USER:PASSWORD@HOST:PORT URL")
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)),
              components.scheme?.lowercased() == "smtp", let rawHost = components.host, !rawHost.isEmpty,
              (components.path.isEmpty || components.path == "/"), components.query == nil, components.fragment == nil
        else {
            if text.lowercased().hasPrefix("smtps://") {
                return .failure(SMTPServerURLError("the variable \(variable) holds an smtps:// URL (TLS from the first byte, "
                                                   + "port 465), which Baton does not speak: use smtp:// on port 587 with STARTTLS"))
            }
            return .failure(problem)
        }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        guard HostName.isValid(host) else { return .failure(problem) }
        let port = components.port ?? EmailSettings.defaultPort
        guard (1...65535).contains(port), port != 465 else { return .failure(problem) }
        let username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        guard (username?.isEmpty ?? true) == (password?.isEmpty ?? true) else {
            return .failure(SMTPServerURLError("the URL in \(variable) gives a user name without a password or the other "
                                               + "way round: SMTP AUTH needs both, or neither"))
        }
        return .success(SMTPServerURL(host: host, port: port, username: username.flatMap { $0.isEmpty ? nil : $0 },
                                      password: password.flatMap { $0.isEmpty ? nil : $0 }))
    }
}

/// Why `smtp_url_env`'s value names no server; never contains the value.
struct SMTPServerURLError: Error, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}
