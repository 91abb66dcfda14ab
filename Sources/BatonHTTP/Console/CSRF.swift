/// Cross-site request forgery protection. Every console form carries the session's random CSRF
/// token in a hidden `csrf` field; every POST must send it back. A forged form on another site
/// cannot read the token (and SameSite=Strict already keeps the cookie off cross-site requests).
/// The sign-in form, which comes before any session, uses a double-submit cookie instead.
enum CSRF {
    /// The hidden field's name.
    static let field = "csrf"
    /// The double-submit cookie of the sign-in form.
    static let loginCookie = "baton_login_csrf"

    /// Whether `sent` equals `expected`, compared in time independent of where they differ.
    static func matches(_ sent: String?, _ expected: String) -> Bool {
        guard let sent else { return false }
        let a = Array(sent.utf8), b = Array(expected.utf8)
        guard a.count == b.count, !b.isEmpty else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
