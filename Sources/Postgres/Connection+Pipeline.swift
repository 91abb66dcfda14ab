import CLibPQ

extension Connection {
    /// Sends all `statements` in one round trip (libpq pipeline mode) and returns their results
    /// in order.
    ///
    /// The statements run as one implicit transaction ending at the pipeline's sync point: if one
    /// fails, the server skips the rest, nothing of the batch is kept, and the first error is thrown.
    /// Inside an explicit transaction they are part of it instead.
    public func pipeline(_ statements: [Statement]) async throws -> [QueryResult] {
        if statements.isEmpty { return [] }
        let local = pooledSettings
        return try await run { pgconn in
            // Through a transaction pooler, outside a transaction: the limits first, in the same
            // implicit transaction (see `Pooling`).
            guard let local, PQtransactionStatus(pgconn) == PQTRANS_IDLE else { return try Self.runPipeline(statements, on: pgconn) }
            return Array(try Self.runPipeline([local] + statements, on: pgconn).dropFirst())
        }
    }

    static func runPipeline(_ statements: [Statement], on pgconn: OpaquePointer) throws -> [QueryResult] {
        guard PQenterPipelineMode(pgconn) == 1 else {
            throw PostgresError(.protocolError, "cannot enter pipeline mode: the connection is busy")
        }
        defer { _ = PQexitPipelineMode(pgconn) }
        // In blocking mode libpq reads the server's replies while it waits to send, so a long
        // pipeline cannot deadlock on full socket buffers.
        for statement in statements {
            let sent = statement.withCParameters { count, types, values in
                PQsendQueryParams(pgconn, statement.sql, count, types, values, nil, nil, 0)
            }
            guard sent == 1 else { throw lostError(pgconn) }
        }
        guard PQpipelineSync(pgconn) == 1 else { throw lostError(pgconn) }

        var results: [QueryResult] = []
        results.reserveCapacity(statements.count)
        var firstError: PostgresError?
        var nullsInARow = 0
        while true {
            guard let result = PQgetResult(pgconn) else {
                // NULL ends each statement's results; two in a row means nothing more will come.
                nullsInARow += 1
                if nullsInARow > 1 || PQstatus(pgconn) != CONNECTION_OK { throw firstError ?? lostError(pgconn) }
                continue
            }
            nullsInARow = 0
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            } else if status == PGRES_PIPELINE_ABORTED {
                PQclear(result)
            } else if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
                results.append(QueryResult(ResultHandle(result)))
            } else {
                if firstError == nil { firstError = serverError(result, pgconn) }
                PQclear(result)
            }
        }
        if let firstError { throw firstError }
        guard results.count == statements.count else {
            throw PostgresError(.protocolError, "pipeline returned \(results.count) results for \(statements.count) statements")
        }
        return results
    }
}
