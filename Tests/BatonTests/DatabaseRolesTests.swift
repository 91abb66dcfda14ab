import Baton
import BatonTesting
import Foundation
import Postgres
import Testing

/// The database roles of sql/roles.sql (issue 11, security): baton-worker and batonctl run as login
/// users that are members of baton_worker, baton_admin and baton_readonly, against a real server.
@Suite("Database roles", .serialized)
struct DatabaseRolesTests {
    static let password = "roles-Pw-7k2"

    /// A migrated database with the roles applied and one login per role; `close` drops the logins.
    struct Setup {
        let config: ConnectionConfig
        let store: Store
        let logins: [String: String]   // group role -> login
        let folder: URL

        static func make(_ label: String) async throws -> Setup {
            let config = try await TestDatabase.create(label)
            let store = Store(pool: ConnectionPool(config, maxConnections: 2, checkoutTimeout: .seconds(60)))
            _ = try await store.migrate()
            _ = try await store.applyRoles()
            var logins: [String: String] = [:]
            let suffix = UInt32.random(in: 0...UInt32.max)
            try await store.pool.withConnection { connection in
                for role in ["baton_admin", "baton_worker", "baton_readonly"] {
                    let login = "\(role.dropFirst(6))_\(suffix)"
                    // Identifiers made here from letters, digits and _ only; the password is a constant.
                    _ = try await connection.executeScript("CREATE ROLE \(login) LOGIN PASSWORD '\(DatabaseRolesTests.password)' IN ROLE \(role)")
                    logins[role] = login
                }
            }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("baton-roles-\(suffix)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return Setup(config: config, store: store, logins: logins, folder: folder)
        }

        /// The database's URL for the login of `role`.
        func url(_ role: String) throws -> String {
            let server = try TestDatabase.serverConfig()
            var components = URLComponents()
            components.scheme = "postgresql"
            components.user = logins[role]
            components.password = DatabaseRolesTests.password
            components.host = server.host
            components.port = Int(server.port)
            components.path = "/\(config.database)"
            components.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
            return try #require(components.string)
        }

        func file(_ name: String, _ text: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// Runs `program` (batonctl by default) as the login of `role`.
        func run(as role: String, _ arguments: [String], program: String = "batonctl") async throws -> (status: Int32, output: String) {
            try await runProgram(try Engine.binary(program), arguments, environment: ["DATABASE_URL": try url(role)])
        }

        /// As baton_admin: applies `teams` and `workflow` and enrolls `contacts` in it; then runs a
        /// worker as baton_worker until idle, which must exit 0 with no permission refused.
        func enrollAsAdminAndDrainAsWorker(teams: String, workflow: String, named name: String, contacts: [String]) async throws {
            let applied = try await run(as: "baton_admin", ["teams", "apply", try file("teams.yaml", teams)])
            #expect(applied.status == 0, "\(applied.output)")
            let defined = try await run(as: "baton_admin", ["workflows", "apply", try file("flow.yaml", workflow)])
            #expect(defined.status == 0, "\(defined.output)")
            let lines = contacts.map { #"{"contact": "\#($0)"}"# }.joined(separator: "\n")
            let started = try await run(as: "baton_admin", ["start", name, "--file", try file("contacts.jsonl", lines)])
            #expect(started.status == 0, "\(started.output)")
            let worker = try await run(as: "baton_worker", ["--until-idle", "--log-level", "warning"], program: "baton-worker")
            #expect(worker.status == 0, "\(worker.output)")
            #expect(!worker.output.contains("permission denied"), "\(worker.output)")
        }

        func close() async {
            await store.pool.close()
            try? FileManager.default.removeItem(at: folder)
            guard let admin = try? await Connection.connect(try TestDatabase.serverConfig()) else { return }
            for login in logins.values { _ = try? await admin.executeScript("DROP ROLE IF EXISTS \(login)") }
            await admin.close()
        }
    }

    static let workflow = """
        name: roles-flow
        start: route
        steps:
          route:
            assign: { team: sales, strategy: round_robin }
            next: tell
          tell:
            notify: { to: [owner], channel: log, message: "lead {{contact.id}}" }
            next: done
          done:
            end: {}
        """

    @Test("the worker completes instances as baton_worker; batonctl applies and enrolls as baton_admin")
    func workerAndAdminRunUnderTheirRoles() async throws {
        let setup = try await Setup.make("roles_run")
        defer { Task { await setup.close() } }
        try await setup.enrollAsAdminAndDrainAsWorker(teams: Engine.sevenMembers, workflow: Self.workflow, named: "roles-flow",
                                                      contacts: (1...12).map { "C-\($0)" })
        let completed = try await setup.store.pool.withConnection {
            try await $0.query("SELECT count(*) FROM workflow_instances WHERE state = 'completed'")[0].decode(Int.self, at: 0)
        }
        #expect(completed == 12)
    }

    /// Members with a capacity: the worker checks open work under a lock on each member it may give
    /// work to (scripts/demo found a worker login refused here: the lock was a row lock on members,
    /// which needs UPDATE on a table the worker may only read).
    static let cappedTeam = """
        teams:
          - name: sales
            members:
              - { id: ana, name: Ana, email: ana@example.com, capacity: 5 }
              - { id: ben, name: Ben, email: ben@example.com, capacity: 5 }
        """

    @Test("a worker login assigns within members' capacity without UPDATE on members")
    func workerChecksCapacityAsBatonWorker() async throws {
        let setup = try await Setup.make("roles_capacity")
        defer { Task { await setup.close() } }
        try await setup.enrollAsAdminAndDrainAsWorker(teams: Self.cappedTeam, workflow: Engine.waitForTouch("roles-wait", within: "1h"),
                                                      named: "roles-wait", contacts: (1...6).map { "K-\($0)" })
        let owners = try await setup.store.pool.withConnection {
            try await $0.query("SELECT owner, count(*) FROM contacts WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner")
                .map { "\(try $0.decode(String.self, at: 0))=\(try $0.decode(Int.self, at: 1))" }
        }
        #expect(owners == ["ana=3", "ben=3"])
    }

    @Test("baton_worker is refused workflows apply and teams apply with one line naming the user and the role it needs")
    func workerCannotChangeDefinitionsOrTeams() async throws {
        let setup = try await Setup.make("roles_worker")
        defer { Task { await setup.close() } }
        let login = try #require(setup.logins["baton_worker"])
        // The teams exist (the admin applied them), so the file is valid and only the role is wrong.
        _ = try await setup.run(as: "baton_admin", ["teams", "apply", try setup.file("teams.yaml", Engine.sevenMembers)])
        let workflow = try await setup.run(as: "baton_worker", ["workflows", "apply", try setup.file("flow.yaml", Self.workflow)])
        #expect(workflow.status == 1)
        #expect(workflow.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(workflow.output)")
        #expect(workflow.output.contains("database user \(login)"), "\(workflow.output)")
        #expect(workflow.output.contains("permission denied for table workflow_definitions"), "\(workflow.output)")
        #expect(workflow.output.contains("needs a member of baton_admin"), "\(workflow.output)")

        let teams = try await setup.run(as: "baton_worker", ["teams", "apply", try setup.file("teams.yaml", Engine.sevenMembers)])
        #expect(teams.status == 1)
        #expect(teams.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1, "\(teams.output)")
        #expect(teams.output.contains("permission denied for table"), "\(teams.output)")
        #expect(teams.output.contains("baton_admin"), "\(teams.output)")
        #expect(!teams.output.contains(Self.password))
    }

    @Test("baton_readonly runs stats and instances list, is refused reassign, and cannot read token hashes")
    func readonlyReadsButCannotChange() async throws {
        let setup = try await Setup.make("roles_read")
        defer { Task { await setup.close() } }
        _ = try await setup.run(as: "baton_admin", ["teams", "apply", try setup.file("teams.yaml", Engine.sevenMembers)])
        _ = try await setup.run(as: "baton_admin", ["workflows", "apply", try setup.file("flow.yaml", Self.workflow)])
        _ = try await setup.run(as: "baton_admin", ["start", "roles-flow", "--contact", "C-1"])
        _ = try await setup.run(as: "baton_admin", ["tokens", "create", "--name", "dash", "--role", "viewer"])

        let stats = try await setup.run(as: "baton_readonly", ["stats", "--json"])
        #expect(stats.status == 0, "\(stats.output)")
        let list = try await setup.run(as: "baton_readonly", ["instances", "list"])
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("C-1"), "\(list.output)")
        let tokens = try await setup.run(as: "baton_readonly", ["tokens", "list"])
        #expect(tokens.status == 0, "\(tokens.output)")

        let reassign = try await setup.run(as: "baton_readonly", ["reassign", "--contact", "C-1", "--to", "m2", "--reason", "try"])
        #expect(reassign.status == 1)
        #expect(reassign.output.contains("permission denied"), "\(reassign.output)")
        #expect(reassign.output.contains("baton_admin"), "\(reassign.output)")

        let reader = try await Connection.connect(try ConnectionConfig(try setup.url("baton_readonly"), connectTimeoutSeconds: 60))
        defer { Task { await reader.close() } }
        let refused = await #expect(throws: PostgresError.self) { try await reader.query("SELECT hash FROM api_tokens") }
        #expect(refused?.isInsufficientPrivilege == true)
        #expect(refused?.user == setup.logins["baton_readonly"])
        #expect(try await reader.query("SELECT name FROM api_tokens").count == 1)
        await #expect(throws: PostgresError.self) { try await reader.query("SELECT csrf FROM console_sessions") }
    }

    @Test("baton_admin is refused migrate with a line saying it is the owner's")
    func adminCannotMigrate() async throws {
        let setup = try await Setup.make("roles_migrate")
        defer { Task { await setup.close() } }
        let migrate = try await setup.run(as: "baton_admin", ["migrate"])
        #expect(migrate.status == 1, "\(migrate.output)")
        #expect(migrate.output.contains("needs a member of baton_owner"), "\(migrate.output)")
        // The owner's login (a member of baton_owner) migrates and re-applies the grants.
        let owner = try await runProgram(try Engine.binary("batonctl"), ["migrate"], environment: ["DATABASE_URL": setup.config.urlForChildren])
        #expect(owner.status == 0, "\(owner.output)")
        #expect(owner.output.contains("grants applied"), "\(owner.output)")
    }

    /// A table a migration adds without a line in sql/roles.sql would be unusable to the admin and
    /// silently hidden from the others: every table must be named there.
    @Test("every table of the schema has its grants in sql/roles.sql, and baton_owner owns it")
    func everyTableIsInTheMatrix() async throws {
        let setup = try await Setup.make("roles_matrix")
        defer { Task { await setup.close() } }
        let rows = try await setup.store.pool.withConnection {
            try await $0.query("""
                SELECT relname::text, has_table_privilege('baton_admin', oid, 'SELECT'), pg_get_userbyid(relowner)::text
                FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p') ORDER BY 1
                """)
        }
        #expect(rows.count > 20)
        for row in rows {
            let table: String = try row.decode(at: 0)
            #expect(try row.decode(Bool.self, at: 1), "table \(table) is not in the matrix of sql/roles.sql")
            #expect(try row.decode(String.self, at: 2) == "baton_owner", "table \(table)")
        }
    }

    @Test func embeddedRolesMatchSqlFolder() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("sql/roles.sql"), encoding: .utf8)
        #expect(text == Store.rolesSQL, "sql/roles.sql differs from the embedded copy: run scripts/gen-migrations")
    }
}
