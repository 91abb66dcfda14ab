/// The schedules file (`batonctl schedules apply schedules.yaml`): work the workers run on a clock.
public struct SchedulesFile: Hashable, Sendable, Codable {
    public var schedules: [Schedule]
    public init(schedules: [Schedule] = []) { self.schedules = schedules }
}

/// What a schedule does when it runs.
public enum ScheduleAction: String, Hashable, Sendable, Codable, CaseIterable {
    /// Run the audit and send it through a channel, one message per team, addressed to the team's
    /// manager: the weekly exception report.
    case exceptionReport = "exception_report"
}

/// One schedule: a cron expression in a time zone, an action and its options.
///
/// ```yaml
/// schedules:
///   - name: weekly-exceptions
///     cron: "0 8 * * mon"          # 5 fields; a 6th leading field gives seconds
///     timezone: Europe/Berlin
///     action: exception_report
///     channel: sales-slack
///     stale_days: 14
///     volume_multiple: 3
/// ```
public struct Schedule: Hashable, Sendable, Codable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var action: ScheduleAction
    /// A channel from the channel file; `log` always exists.
    public var channel: String
    /// Audit options for `exception_report` (nil: the audit's defaults).
    public var staleDays: Int?
    public var volumeMultiple: Double?
    public var queuedLongerThan: TimeSpan?

    public init(name: String, cron: String, timezone: String = "UTC", action: ScheduleAction = .exceptionReport,
                channel: String = "log", staleDays: Int? = nil, volumeMultiple: Double? = nil, queuedLongerThan: TimeSpan? = nil) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.action = action
        self.channel = channel
        self.staleDays = staleDays
        self.volumeMultiple = volumeMultiple
        self.queuedLongerThan = queuedLongerThan
    }

    /// The parsed cron expression (the loader has checked it parses).
    public func expression() throws -> CronExpression { try CronExpression(cron, timeZone: timezone) }
}
