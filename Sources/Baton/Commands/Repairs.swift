import Foundation

/// The admin repairs with the checks and messages the CLI and the API share. `actor` is who acts:
/// `$BATON_USER` for the CLI, the token's name for the API; it is recorded in timelines and
/// ownership history.
extension Store {
    /// Retries one failed instance; a missing or not-failed instance is a one-line error.
    public func retryFailed(instance: Int, by actor: String) async throws {
        let retried = try await retry(instance: instance, workflow: nil, by: actor)
        if retried.isEmpty {
            guard let found = try await self.instance(instance) else { throw BatonError.notFound("no instance \(instance)") }
            throw BatonError.conflict("instance \(instance) is \(found.0.state), not failed; only failed instances are retried")
        }
    }

    /// Gives a contact to a member by hand, recorded as `manual:<actor> <reason>`.
    /// Returns how many records followed (a company's inheriting records).
    @discardableResult
    public func reassignByHand(contact: String, to member: String, reason: String, by actor: String) async throws -> Int {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw BatonError.invalid("a reassignment needs a reason (it goes into the ownership history)") }
        return try await reassign(contact: contact, to: member, reason: "manual:\(actor) \(reason)")
    }
}
