import Postgres

/// How a failed call should be reported, for layers that do not see the database driver (the HTTP
/// API): a fault of the caller, a database that cannot be reached, or an internal fault.
public enum FailureKind: Sendable, Equatable {
    /// The database could not be reached or dropped the connection: try again later (HTTP 503).
    case unavailable
    /// Anything else that is not a `BatonError` or `DefinitionErrors`: a fault of ours (HTTP 500).
    case internalFault
}

extension FailureKind {
    /// Classifies an error thrown by the Store.
    public init(_ error: any Error) {
        guard let error = error as? PostgresError else { self = .internalFault; return }
        // 08xxx connection exceptions, 57P0x the server shutting down or starting up.
        let sqlState = error.sqlState ?? ""
        if [.connectionFailed, .connectionLost, .poolTimeout, .closed].contains(error.code)
            || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") {
            self = .unavailable
        } else {
            self = .internalFault
        }
    }
}
