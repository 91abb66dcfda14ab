import Foundation

/// Files a test writes for the programs it starts (configuration files, secrets in files), in a
/// directory of its own under the system's temporary directory.
public enum ScratchFiles {
    /// A fresh directory named after `label`, the process and a random number.
    public static func directory(_ label: String) throws -> String {
        let name = "baton-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `text` to `name` in `directory`; returns the path.
    public static func write(_ text: String, _ name: String, in directory: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
