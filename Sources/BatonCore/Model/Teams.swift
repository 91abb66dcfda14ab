/// The team file (`batonctl teams apply teams.yaml`): calendars and teams with their members.
public struct TeamsFile: Hashable, Sendable, Codable {
    public var calendars: [BusinessCalendar]
    public var teams: [Team]
    /// The organisation's lifecycle stages, in order (`lifecycle:`); nil when the file names none
    /// (the stored ones stay, else `Lifecycle.defaultStages`).
    public var lifecycle: [String]?
    public init(calendars: [BusinessCalendar] = [], teams: [Team] = [], lifecycle: [String]? = nil) {
        self.calendars = calendars
        self.teams = teams
        self.lifecycle = lifecycle
    }
}

/// Working hours in a time zone, minus holidays.
public struct BusinessCalendar: Hashable, Sendable, Codable {
    public var name: String
    /// An IANA time zone, e.g. `Europe/Berlin`.
    public var timezone: String
    /// Working hours per weekday (1 = Monday … 7 = Sunday); a day without an entry is not worked.
    public var hours: [Int: [MinuteRange]]
    /// Dates (`YYYY-MM-DD`, in the calendar's zone) that are not worked.
    public var holidays: [String]

    public init(name: String, timezone: String, hours: [Int: [MinuteRange]], holidays: [String] = []) {
        self.name = name
        self.timezone = timezone
        self.hours = hours
        self.holidays = holidays
    }
}

/// Minutes after midnight, `start` inclusive, `end` exclusive: `09:00-17:00` is 540..<1020.
public struct MinuteRange: Hashable, Sendable, Codable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Parses `09:00-17:00`; nil when malformed or empty.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = Self.minutes(parts[0]), let end = Self.minutes(parts[1]), start < end
        else { return nil }
        self.start = start
        self.end = end
    }

    static func minutes(_ text: String) -> Int? {
        let hm = text.split(separator: ":")
        guard hm.count == 2, hm[0].count <= 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]),
              (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440 else { return nil }
        return h * 60 + m
    }
}

/// The kinds of team.
public enum TeamKind: String, Hashable, Sendable, Codable, CaseIterable {
    case sales, marketing, service, retention, other
}

public struct Team: Hashable, Sendable, Codable {
    public var name: String
    public var kind: TeamKind
    public var calendar: String?
    /// A member id, of this team or another.
    public var manager: String?
    public var members: [Member]

    public init(name: String, kind: TeamKind = .other, calendar: String? = nil, manager: String? = nil,
                members: [Member] = []) {
        self.name = name
        self.kind = kind
        self.calendar = calendar
        self.manager = manager
        self.members = members
    }
}

public struct Member: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    public var email: String?
    /// Most open instances at once; nil is unlimited.
    public var capacity: Int?
    /// Share in `weighted` routing (default 1; 0 never gets weighted work).
    public var weight: Int
    public var active: Bool
    /// `YYYY-MM-DD`: out of office until the end of that day (in UTC).
    public var outOfOfficeUntil: String?
    /// A member id who covers for this member.
    public var backup: String?
    /// Overrides the team's calendar for working-hours eligibility.
    public var calendar: String?
    /// The member's ids in CRMs (`hubspot`: the owner id, `salesforce`: the user id), for owner write-back
    /// and for recognising owner changes made in the CRM.
    public var crm: [String: String]?

    public init(id: String, name: String, email: String? = nil, capacity: Int? = nil, weight: Int = 1,
                active: Bool = true, outOfOfficeUntil: String? = nil, backup: String? = nil, calendar: String? = nil,
                crm: [String: String]? = nil) {
        self.id = id
        self.name = name
        self.email = email
        self.capacity = capacity
        self.weight = weight
        self.active = active
        self.outOfOfficeUntil = outOfOfficeUntil
        self.backup = backup
        self.calendar = calendar
        self.crm = crm
    }
}

/// The channel file (`batonctl channels apply channels.yaml`).
public struct ChannelsFile: Hashable, Sendable, Codable {
    public var channels: [Channel]
    public init(channels: [Channel] = []) { self.channels = channels }
}

public enum ChannelType: String, Hashable, Sendable, Codable, CaseIterable {
    case webhook, slack, log
    /// Owner write-back to HubSpot (`PATCH /crm/v3/objects/contacts/{id}`).
    case hubspot
    /// Owner write-back to Salesforce (`PATCH /services/data/vNN.N/sobjects/{Lead|Contact}/{id}`).
    case salesforce
    /// A plain-text email to the recipient's address (the member's `email` in the team file), over
    /// SMTP with STARTTLS and AUTH.
    case email

    /// The CRMs Baton writes owners back to (and reads owner ids of from a member's `crm` map).
    public var isCRM: Bool { self == .hubspot || self == .salesforce }
}

/// A delivery channel. Secrets are named by environment variable, never stored.
public struct Channel: Hashable, Sendable, Codable {
    public var name: String
    public var type: ChannelType
    public var url: String?
    /// The environment variable holding the URL (for Slack webhooks, whose URL is the secret).
    public var urlEnv: String?
    /// The environment variable holding the HMAC secret.
    public var secretEnv: String?
    /// How long one delivery may take, connect to answer; at most `maxTimeoutSeconds`.
    public var timeout: TimeSpan
    public var maxAttempts: Int
    /// CRM channels: the environment variable holding the API token (a HubSpot private app token,
    /// a Salesforce OAuth access token).
    public var tokenEnv: String?
    /// HubSpot: the API's base URL (default `https://api.hubapi.com`; tests point it at a fake).
    public var baseURL: String?
    /// Salesforce: the org's instance URL, e.g. `https://acme.my.salesforce.com`.
    public var instanceURL: String?
    /// Salesforce: the object a Baton contact is, `Lead` or `Contact`.
    public var object: String?
    /// CRM channels: at most this many calls per period, across every relay (coordinated in the database).
    public var rate: ChannelRate?
    /// CRM channels: write every change of a contact's owner back to the CRM.
    public var syncOwner: Bool?
    /// Webhook channels: events sent besides notify steps' messages; today `owner.changed`.
    public var events: [String]?
    /// Email channels: how to reach the SMTP server and whom the mail is from (see `EmailSettings`).
    public var email: EmailSettings?

    /// The longest `timeout` a channel file may give: the outbox relay holds a row in flight for
    /// longer than its channel's timeout, so another relay never sends it meanwhile.
    public static let maxTimeoutSeconds = 600

    public init(name: String, type: ChannelType, url: String? = nil, urlEnv: String? = nil, secretEnv: String? = nil,
                timeout: TimeSpan = TimeSpan(seconds: 5), maxAttempts: Int = 8) {
        self.name = name
        self.type = type
        self.url = url
        self.urlEnv = urlEnv
        self.secretEnv = secretEnv
        self.timeout = timeout
        self.maxAttempts = maxAttempts
    }

    /// Whether this channel writes owners back (a CRM channel with `sync_owner: true`).
    public var writesOwners: Bool { type.isCRM && syncOwner == true }

    /// The environment variables this channel reads its secrets from, with the field naming each
    /// (`url_env`, `secret_env`, `token_env`, `smtp_url_env`, `username_env`, `password_env`), in that order.
    public var environmentVariables: [(field: String, name: String)] {
        let named: [(String, String?)] = [("url_env", urlEnv), ("secret_env", secretEnv), ("token_env", tokenEnv),
                                          ("smtp_url_env", email?.smtpURLEnv),
                                          ("username_env", email?.usernameEnv), ("password_env", email?.passwordEnv)]
        return named.compactMap { field, name in name.map { (field, $0) } }
    }
}

/// How an email channel reaches its SMTP server. Credentials are named by environment variable.
public struct EmailSettings: Hashable, Sendable, Codable {
    /// The SMTP server's host name or IP address (no brackets around IPv6); empty when
    /// `smtpURLEnv` names the server.
    public var host: String
    /// Default 587 (submission with STARTTLS).
    public var port: Int
    /// `From:` as written in the file: `baton@example.com` or `Baton <baton@example.com>`.
    public var from: String
    public var starttls: StartTLSMode
    /// The environment variables holding the SMTP AUTH user name and password; both or neither.
    public var usernameEnv: String?
    public var passwordEnv: String?
    /// The environment variable holding the whole server as a URL,
    /// `smtp://USER:PASSWORD@HOST:PORT` (user and password percent-encoded, both optional, port
    /// 587 by default): instead of host, port, username_env and password_env.
    public var smtpURLEnv: String?
    /// A mustache template for the Subject (`{{workflow}}`, `{{step}}`, `{{instance}}`,
    /// `{{contact.id}}`, `{{recipient.id}}`); nil: the message's first line.
    public var subject: String?
    /// A PEM file of CA certificates trusted besides the system's (a private CA's, or a test's).
    public var caFile: String?

    /// The submission port.
    public static let defaultPort = 587

    public init(host: String, port: Int = EmailSettings.defaultPort, from: String, starttls: StartTLSMode = .required,
                usernameEnv: String? = nil, passwordEnv: String? = nil, subject: String? = nil, caFile: String? = nil,
                smtpURLEnv: String? = nil) {
        self.smtpURLEnv = smtpURLEnv
        self.host = host
        self.port = port
        self.from = from
        self.starttls = starttls
        self.usernameEnv = usernameEnv
        self.passwordEnv = passwordEnv
        self.subject = subject
        self.caFile = caFile
    }
}

/// Whether an email channel encrypts its SMTP session with STARTTLS.
public enum StartTLSMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Refuse to send unless the server offers STARTTLS and the certificate verifies (the default).
    case required
    /// Use STARTTLS when the server offers it (the certificate must still verify); plain otherwise.
    case opportunistic
    /// Never; only allowed to localhost, 127.0.0.0/8 or [::1].
    case off
}

/// A rate limit, `100/10s`: `calls` per `period`.
public struct ChannelRate: Hashable, Sendable, Codable {
    public var calls: Int
    public var period: TimeSpan
    public init(calls: Int, period: TimeSpan) {
        self.calls = calls
        self.period = period
    }

    /// Parses `100/10s` (a whole number, a slash, a duration; `100/s` is `100/1s`); nil when malformed.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let calls = Int(parts[0]), calls > 0 else { return nil }
        let periodText = parts[1].first?.isNumber == true ? parts[1] : "1" + parts[1]
        guard let period = TimeSpan(parsing: periodText), period.seconds > 0 else { return nil }
        self.calls = calls
        self.period = period
    }

    /// Calls per second.
    public var perSecond: Double { Double(calls) / Double(period.seconds) }
}
