import BatonTesting
import Testing

/// The test process must end without OpenSSL's exit-time cleanup racing libpq's threads (see
/// OpenSSLExit). This checks that libcrypto is found and takes the call; OpenSSL answers 1 also when
/// it was initialised before the call, so whether the cleanup is really off shows only at exit.
@Suite("Test process exit")
struct OpenSSLExitTests {
    @Test func openSSLSkipsItsCleanupAtExit() throws {
        _ = try TestDatabase.serverConfig()
        #expect(OpenSSLExit.cleanupDisabled)
    }
}
