import Yams

extension DefinitionLoader {
    /// A schedules file (YAML or JSON). `known.channels`, when given, is checked.
    /// - Throws: `DefinitionErrors` listing every mistake in the file.
    public static func schedules(from text: String, file: String, known: KnownNames = KnownNames()) throws -> SchedulesFile {
        let r = NodeReader(file: file)
        let schedules = readSchedulesFile(text, r, known)
        guard r.issues.isEmpty, let schedules else { throw DefinitionErrors(issues: r.issues) }
        return schedules
    }

    private static func readSchedulesFile(_ text: String, _ r: NodeReader, _ known: KnownNames) -> SchedulesFile? {
        guard let root = r.compose(text) else {
            if r.issues.isEmpty { r.issue(line: 1, column: 1, "", "the file is empty; a schedules file lists schedules") }
            return nil
        }
        guard let top = r.fields(root, "", allowed: ["schedules"], expected: "a schedules file (a mapping with schedules)") else {
            return nil
        }
        var schedules: [Schedule] = []
        var lines: [String: Int] = [:]
        for (i, node) in (r.list(top, "schedules", required: true, hint: " (a list of schedules)") ?? []).enumerated() {
            let p = "schedules[\(i)]"
            guard let f = r.fields(node, p, allowed: ["name", "cron", "timezone", "action", "channel", "stale_days",
                                                      "volume_multiple", "queued_longer_than"],
                                   expected: "a schedule (a mapping with name, cron, timezone and action)")
            else { continue }
            var name = r.string(f, "name", required: true)
            if let n = name, let node = f["name"] {
                if let line = lines[n] {
                    r.issue(node, f.path("name"), "duplicate schedule \"\(n)\" (first at line \(line))")
                    name = nil
                } else {
                    lines[n] = node.mark?.line ?? 1
                }
            }
            let cron = r.string(f, "cron", required: true, hint: " (e.g. \"0 8 * * mon\": minute hour day-of-month month day-of-week)")
            let timezone = f["timezone"] == nil ? "UTC" : r.string(f, "timezone")
            var cronOK = true
            if let cron, let timezone {
                do { _ = try CronExpression(cron, timeZone: timezone) } catch {
                    let key = "\(error)".hasPrefix("unknown time zone") ? "timezone" : "cron"
                    r.issue(f[key] ?? node, f.path(key), "\(error)")
                    cronOK = false
                }
            }
            let action = r.choice(f, "action", ScheduleAction.self, required: true)
            let channel = f["channel"] == nil ? "log" : r.string(f, "channel")
            if let channel, channel != "log", let channels = known.channels, !channels.contains(channel), let node = f["channel"] {
                r.issue(node, f.path("channel"), "unknown channel \"\(channel)\" (apply it with batonctl channels apply FILE; log always exists)")
            }
            let staleDays = f["stale_days"] == nil ? nil : r.int(f, "stale_days", minimum: 1)
            var multiple: Double?
            if let node = f["volume_multiple"] {
                if let text = r.text(node, f.path("volume_multiple")) {
                    if let x = Double(text), x > 0, x.isFinite { multiple = x } else {
                        r.issue(node, f.path("volume_multiple"), "volume_multiple must be a number above 0, e.g. 3")
                    }
                }
            }
            let queued = f["queued_longer_than"] == nil ? nil : r.duration(f, "queued_longer_than")
            guard let name, let cron, let timezone, cronOK, let action, let channel,
                  staleDays != nil || f["stale_days"] == nil, multiple != nil || f["volume_multiple"] == nil,
                  queued != nil || f["queued_longer_than"] == nil
            else { continue }
            schedules.append(Schedule(name: name, cron: cron, timezone: timezone, action: action, channel: channel,
                                      staleDays: staleDays, volumeMultiple: multiple, queuedLongerThan: queued))
        }
        return SchedulesFile(schedules: schedules)
    }
}
