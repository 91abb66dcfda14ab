import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program started by a test: spawned with posix_spawn, its output in a temporary file, reaped
/// with waitpid on a Dispatch thread (Foundation's Process left children unreaped here).
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    private let outputPath: String

    /// Starts `path` with `arguments`, the test's environment plus `environment`, stdin from /dev/null.
    /// `unblockSignals`: start with no signal blocked. The test process blocks the signals its
    /// Dispatch sources read, and a child inherits that mask: a program that handles signals with
    /// `sigaction` (PgBouncer) would never see SIGTERM.
    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:], unblockSignals: Bool = false) throws {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("baton-child-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).log").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if unblockSignals {
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard status == 0 else { throw TestSetupError("cannot start \(path): errno \(status)") }
        pid = child
    }

    /// Sends `signal` (SIGTERM, SIGKILL, …) to the child.
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the child to exit; returns its exit status (128 + signal when killed by one).
    public func wait() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "baton.test.wait").async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                // WIFEXITED / WEXITSTATUS / WTERMSIG by hand: the macros are not imported.
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }
        }
    }

    /// What the child wrote to stdout and stderr so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    deinit { unlink(outputPath) }
}

/// Runs a program to completion and returns its exit status and combined output.
@discardableResult
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:]) async throws
    -> (status: Int32, output: String)
{
    let child = try ChildProcess(path, arguments, environment: environment)
    let status = await child.wait()
    return (status, child.output)
}
