import Foundation

extension Settings {
    /// The settings as a configuration file, for `--print-config`: `key: value  # source` per
    /// setting, in catalogue order; an unset one as a comment saying what it means. Passwords are
    /// never shown. Loaded back with `--config`, it gives the same values. `notes` are appended as
    /// comments (what the settings imply: the database endpoint, derived timeouts).
    public func yaml(program: String, notes: [String] = []) -> String {
        var lines = ["# \(program) settings: --flag, then BATON_* environment, then \(file ?? "baton.yaml"), then the default."]
        for setting in catalogue {
            let entry = values[setting.key] ?? Value(value: setting.defaultValue, source: .byDefault)
            guard let value = entry.value else {
                lines.append("# \(setting.key): (\(setting.unsetNote))  # \(entry.source)")
                continue
            }
            if setting.isSecret && hasPassword(value) {
                lines.append("\(setting.key): \(yamlScalar(maskPassword(value)))  # \(entry.source), password not shown")
            } else {
                lines.append("\(setting.key): \(yamlScalar(value))  # \(entry.source)")
            }
        }
        if !notes.isEmpty {
            lines.append("#")
            lines.append("# What these settings come to:")
            lines += notes.map { "# \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}

/// `text` as a YAML scalar that reads back as the same string: plain when it is safe, else double-quoted.
func yamlScalar(_ text: String) -> String {
    let indicators = Set("-?:,[]{}#&*!|>'\"%@`")
    let plainSafe = !text.isEmpty && !indicators.contains(text.first!) && !text.contains(": ") && !text.contains(" #")
        && !text.hasSuffix(":") && text.trimmingCharacters(in: .whitespaces) == text
        && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        && !["~", "null", "Null", "NULL"].contains(text)
    if plainSafe { return text }
    var quoted = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + "\""
}
