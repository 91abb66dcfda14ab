/// Secrets a channel names by environment variable that are not set: the channel's deliveries
/// would fail (and end dead after their attempts) until the relay's environment has them.
public struct UnsetChannelVariable: Hashable, Sendable {
    public var channel: String
    /// `url_env`, `secret_env`, `token_env`, `username_env` or `password_env`.
    public var field: String
    /// The variable's name (never its value).
    public var variable: String

    /// Every variable of `channels` that `environment` lacks or holds empty, in channel order.
    public static func find(in channels: some Sequence<Channel>, environment: [String: String]) -> [UnsetChannelVariable] {
        channels.flatMap { channel in
            channel.environmentVariables.filter { (environment[$0.name] ?? "").isEmpty }.map {
                UnsetChannelVariable(channel: channel.name, field: $0.field, variable: $0.name)
            }
        }
    }
}
