/// What the HTTP layer needs to know besides the store.
public struct ServerSettings: Sendable {
    /// The largest request body accepted (413 above), in bytes.
    public var maxBodyBytes: Int
    /// The largest attribute value accepted (413 above), in bytes.
    public var maxAttributeBytes: Int
    /// The most enrollments one bulk request may carry.
    public var maxBulkItems: Int
    /// Where `GET /v1/openapi.yaml` reads the contract from (the repo's `openapi.yaml`); nil serves a built-in copy.
    public var openAPIPath: String?
    /// The server's public base URL (`https://baton.example.com`, no trailing slash): part of what
    /// HubSpot signs, so behind a proxy it must be the URL HubSpot calls.
    public var publicBaseURL: String
    /// Where inbound sources' secrets are read (the process environment).
    public var environment: [String: String]

    public init(maxBodyBytes: Int = 10 * 1024 * 1024, maxAttributeBytes: Int = 64 * 1024, maxBulkItems: Int = 10_000,
                openAPIPath: String? = nil, publicBaseURL: String = "http://127.0.0.1:8080",
                environment: [String: String] = [:]) {
        self.maxBodyBytes = maxBodyBytes
        self.maxAttributeBytes = maxAttributeBytes
        self.maxBulkItems = maxBulkItems
        self.openAPIPath = openAPIPath
        self.publicBaseURL = publicBaseURL.hasSuffix("/") ? String(publicBaseURL.dropLast()) : publicBaseURL
        self.environment = environment
    }
}
