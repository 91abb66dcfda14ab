import BatonTesting
import Testing

/// The test process must end without OpenSSL's exit-time cleanup racing libpq's threads (see OpenSSLExit).
@Suite("Test process exit")
struct OpenSSLExitTests {
    @Test func openSSLSkipsItsCleanupAtExit() throws {
        _ = try TestDatabase.serverConfig()
        #expect(OpenSSLExit.cleanupDisabled)
    }
}
