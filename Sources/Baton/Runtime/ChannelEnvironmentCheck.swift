import BatonCore
import Foundation
import Logging

/// At a relay's start: one warning per channel variable (`url_env`, `secret_env`, `token_env`,
/// `username_env`, `password_env`) that this process's environment does not set. Such a channel's
/// deliveries fail until it does, and end dead after their attempts.
public func warnAboutUnsetChannelVariables(store: Store, logger: Logger,
                                           environment: [String: String] = ProcessInfo.processInfo.environment) async {
    let channels: [String: BatonCore.Channel]
    do {
        channels = try await store.channels()
    } catch {
        logger.warning("could not read the channels to check their variables", metadata: ["error": "\(error)"])
        return
    }
    let unset = UnsetChannelVariable.find(in: channels.values.sorted { $0.name < $1.name }, environment: environment)
    for item in unset {
        logger.warning("a channel's variable is not set: its deliveries fail until it is", metadata: [
            "channel": "\(item.channel)", "field": "\(item.field)", "variable": "\(item.variable)",
        ])
    }
}
