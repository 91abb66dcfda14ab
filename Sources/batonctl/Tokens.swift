import ArgumentParser
import Baton
import Foundation

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the bearer tokens of the HTTP API (baton-server).",
        discussion: """
            Roles: viewer reads everything; operator also starts instances and sends signals; admin also \
            retries, cancels, resumes, reassigns and applies workflows and teams. Only a hash of each \
            token is stored: the token is printed once, by create.

            Example:
              export BATON_TOKEN=$(batonctl tokens create --name crm-sync --role operator)
              curl -H "Authorization: Bearer $BATON_TOKEN" http://127.0.0.1:8080/v1/instances
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (alone, on standard output): the only time it is shown.",
            discussion: "Example:\n  batonctl tokens create --name ops-dashboard --role viewer")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "A name for the token (letters, digits, '.', '_', '-'); it is the actor in timelines.") var name: String
        @Option(help: "viewer, operator or admin.") var role: String

        func validate() throws {
            if TokenRole(rawValue: role) == nil { throw ValidationError("--role must be viewer, operator or admin, got \(role)") }
        }

        func run() async throws {
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            let token = try await store.createToken(name: name, role: TokenRole(rawValue: role)!, createdBy: currentUser())
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tokens: name, role, created, last used, revoked (never the token itself).",
            discussion: "Example:\n  batonctl tokens list --json")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try database.store(connections: 1)
            let tokens = try await store.tokens()
            await store.pool.close()
            if json { try printJSON(tokens); return }
            if tokens.isEmpty { print("no tokens yet: batonctl tokens create --name NAME --role viewer|operator|admin"); return }
            print(table(["NAME", "ROLE", "CREATED", "BY", "LAST USED", "REVOKED"], tokens.map {
                [$0.name, $0.role, rfc3339($0.created_at), $0.created_by ?? "-", rfc3339($0.last_used_at), rfc3339($0.revoked_at)]
            }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: requests with it are refused (401) within two seconds.",
            discussion: "Example:\n  batonctl tokens revoke crm-sync")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token's name.") var name: String

        func run() async throws {
            let store = try database.store(connections: 1)
            defer { Task { await store.pool.close() } }
            try await store.revokeToken(name: name)
            print("revoked token \(name)")
        }
    }
}
