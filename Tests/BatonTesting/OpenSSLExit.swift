import Foundation

/// Keeps OpenSSL (loaded by libpq, which uses it for SCRAM and TLS) from cleaning up in an `atexit`
/// handler when the test process ends. The test runner calls `exit` while dispatch threads that ran
/// libpq calls may still be finishing; OpenSSL's cleanup then frees its per-thread state while those
/// threads free it too, and the process crashes after every test has passed ("double free or
/// corruption", a bad pointer in libcrypto.so.3, seen in two fresh-clone runs). The operating system
/// frees everything at exit anyway; OpenSSL documents `OPENSSL_INIT_NO_ATEXIT` for this case. It
/// works only before OpenSSL's first initialisation, so it runs before a test's first connection.
public enum OpenSSLExit {
    private static let done: Bool = {
        let noAtExit: UInt64 = 0x0008_0000  // OPENSSL_INIT_NO_ATEXIT
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "OPENSSL_init_crypto") else { return false }
        typealias InitCrypto = @convention(c) (UInt64, OpaquePointer?) -> Int32
        return unsafeBitCast(symbol, to: InitCrypto.self)(noAtExit, nil) == 1
    }()

    /// Idempotent; a no-op when libcrypto is not loaded.
    public static func disableCleanupAtExit() { _ = done }

    /// True when OpenSSL accepted the setting.
    public static var cleanupDisabled: Bool { done }
}
