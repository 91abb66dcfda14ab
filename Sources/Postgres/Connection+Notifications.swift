import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A NOTIFY received on a listening connection.
public struct PostgresNotification: Sendable, Equatable {
    /// The channel it was sent on.
    public let channel: String
    /// The payload (empty when none was given).
    public let payload: String
    /// The server process that sent it.
    public let senderPID: Int32
}

extension Connection {
    /// LISTENs on `channels` and returns the notifications as they arrive. Needs a direct
    /// connection (`Pooling.direct`).
    ///
    /// The connection is given over to the stream: its queue's thread waits in `poll(2)` on the
    /// socket and on a wake-up pipe (it never spins), so do not run other statements on it. The
    /// stream ends when the consuming task is cancelled or stops iterating, and throws a
    /// `.connectionLost` error when the connection breaks; close the connection afterwards.
    ///
    /// A listening connection is silent, so a server that vanished without closing the socket
    /// would never be noticed: after `probeInterval` with nothing received, the LISTEN statements
    /// are sent again (a no-op for a live session, and what `pg_stat_activity.query` keeps showing),
    /// which fails (within the config's TCP timeouts) when the server is gone.
    public func notifications(listeningTo channels: [String], probeInterval: Duration = .seconds(30)) async throws
        -> AsyncThrowingStream<PostgresNotification, Error>
    {
        // A transaction pooler lends the session for one statement: the LISTEN would land on a
        // session that other clients use next, and the notifications would never arrive here.
        guard config.pooling == .direct else {
            throw PostgresError(.invalidConfiguration, "LISTEN needs a direct connection to the server, not one through a transaction pooler")
        }
        let probeMillis = Int32(SessionTimeouts.milliseconds(probeInterval))
        // Channel names are identifiers, which cannot be parameters: libpq quotes them.
        let listen = try await run { pgconn in
            try channels.map { channel in
                guard let quoted = PQescapeIdentifier(pgconn, channel, channel.utf8.count) else {
                    throw Self.lostError(pgconn)
                }
                defer { PQfreemem(quoted) }
                return "LISTEN " + String(cString: quoted)
            }.joined(separator: "; ")
        }
        if !listen.isEmpty { try await run { pgconn in _ = try Self.check(PQexec(pgconn, listen), pgconn) } }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw PostgresError(.protocolError, "cannot create a wake-up pipe") }
        let (readFD, writeFD) = (pipeFDs[0], pipeFDs[1])
        let wake = WakePipe(writeFD: writeFD)
        return AsyncThrowingStream { continuation in
            continuation.onTermination = { _ in wake.signal() }
            runDetached { pgconn in
                defer {
                    _ = Glibc.close(readFD)
                    wake.close()
                }
                guard let pgconn else {
                    continuation.finish(throwing: PostgresError(.closed, "the connection is closed"))
                    return
                }
                while true {
                    while let notify = PQnotifies(pgconn) {
                        let notification = PostgresNotification(
                            channel: String(cString: notify.pointee.relname),
                            payload: notify.pointee.extra.map { String(cString: $0) } ?? "",
                            senderPID: notify.pointee.be_pid)
                        PQfreemem(notify)
                        continuation.yield(notification)
                    }
                    var fds = [
                        pollfd(fd: PQsocket(pgconn), events: Int16(POLLIN), revents: 0),
                        pollfd(fd: readFD, events: Int16(POLLIN), revents: 0),
                    ]
                    let ready = poll(&fds, 2, probeMillis)
                    if ready < 0 {
                        if errno == EINTR { continue }
                        continuation.finish(throwing: PostgresError(.protocolError, "poll failed: errno \(errno)"))
                        return
                    }
                    if ready == 0 {
                        // Quiet for a whole interval: ask the server something to prove it is there.
                        let result = PQexec(pgconn, listen.isEmpty ? "" : listen)
                        let alive = result.map { [PGRES_EMPTY_QUERY, PGRES_COMMAND_OK].contains(PQresultStatus($0)) } ?? false
                        PQclear(result)
                        if !alive || PQstatus(pgconn) != CONNECTION_OK {
                            continuation.finish(throwing: Self.lostError(pgconn))
                            return
                        }
                        continue
                    }
                    if fds[1].revents != 0 {
                        continuation.finish()
                        return
                    }
                    if fds[0].revents != 0 {
                        if PQconsumeInput(pgconn) == 0 || PQstatus(pgconn) != CONNECTION_OK {
                            continuation.finish(throwing: Self.lostError(pgconn))
                            return
                        }
                    }
                }
            }
        }
    }
}

/// The write end of a pipe that wakes a listening loop; closed once.
///
/// `@unchecked Sendable`: `fd` is read and written under `lock`.
final class WakePipe: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32
    init(writeFD: Int32) { fd = writeFD }
    func signal() {
        lock.withLock {
            guard fd >= 0 else { return }
            var byte: UInt8 = 1
            _ = write(fd, &byte, 1)
        }
    }
    func close() {
        lock.withLock {
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }
}
