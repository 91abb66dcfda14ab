import Postgres

extension Store {
    /// Each team's next round-robin position. Reads only (no lock): for `batonctl simulate`, which
    /// predicts who the live rotation would pick next and changes nothing.
    static let selectRoutingPositions = "SELECT team, position FROM routing_cursors"

    /// The rotation's next position per team, as a worker's reservation would start now.
    public func routingPositions() async throws -> [String: Int] {
        try await pool.withConnection { connection in
            var positions: [String: Int] = [:]
            for row in try await connection.query(Self.selectRoutingPositions) {
                positions[try row.decode("team")] = try row.decode("position")
            }
            return positions
        }
    }
}
