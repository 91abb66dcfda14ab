import Foundation

/// The clock one wait's SLA runs on: the wall clock, or the working time of a business calendar.
///
/// Everything a pause does to a deadline is measured here, so business hours stay business hours:
/// paused from Friday 16:00 to Monday 10:00 on a 9–17 Monday–Friday calendar is 2 hours of this
/// clock (Friday's last hour and Monday's first), and the deadline moves by those 2 hours, not 66.
/// A pure value: time comes in as `Date`s.
public struct SLAClock: Hashable, Sendable {
    /// The calendar whose working hours count; nil is the wall clock.
    public var calendar: BusinessCalendar?

    public init(calendar: BusinessCalendar? = nil) {
        self.calendar = calendar
    }

    /// The clock of `wait`: its calendar when it runs on business hours and the calendar is known;
    /// otherwise the wall clock (as the Machine does when it sets the deadline).
    public init(_ wait: WaitForSLA, calendars: [String: BusinessCalendar]) {
        if wait.clock == .businessHours, let name = wait.calendar, let calendar = calendars[name] {
            self.calendar = calendar
        } else {
            calendar = nil
        }
    }

    /// `start` plus `seconds` of this clock's time.
    public func deadline(from start: Date, adding seconds: TimeInterval) -> Date {
        guard let calendar else { return start.addingTimeInterval(seconds) }
        return BusinessClock.deadline(from: start, adding: seconds, in: calendar)
    }

    /// How much of this clock's time passes from `start` to `end` (0 when `end` is not after `start`).
    public func seconds(from start: Date, to end: Date) -> TimeInterval {
        guard end > start else { return 0 }
        guard let calendar else { return end.timeIntervalSince(start) }
        return BusinessClock.workingTime(from: start, to: end, in: calendar)
    }

    /// Where `deadline` moves when the clock stood still from `pausedAt` to `resumedAt`: what was
    /// left at the pause is counted again from the resume. The same as moving it by the paused time
    /// as this clock counts it. A pause that begins at or after the deadline moves nothing (the wait
    /// breached at its deadline; the Machine does not open such a pause).
    public func moved(_ deadline: Date, pausedAt: Date, resumedAt: Date) -> Date {
        guard pausedAt < deadline, resumedAt > pausedAt else { return deadline }
        let left = seconds(from: pausedAt, to: deadline)
        return self.deadline(from: resumedAt, adding: left)
    }
}

extension BusinessClock {
    /// The working time of `calendar` between `start` and `end` (its zone, hours per weekday,
    /// holidays). A calendar with no working hours at all (or an unknown zone) counts wall time,
    /// as `deadline` does.
    public static func workingTime(from start: Date, to end: Date, in calendar: BusinessCalendar) -> TimeInterval {
        guard end > start else { return 0 }
        guard let zone = TimeZone(identifier: calendar.timezone),
              calendar.hours.values.contains(where: { !$0.isEmpty })
        else { return end.timeIntervalSince(start) }
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = zone
        let holidays = Set(calendar.holidays)
        var total: TimeInterval = 0
        var cursor = start
        while cursor < end {
            let dayStart = gregorian.startOfDay(for: cursor)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: dayStart)
            let isoWeekday = ((parts.weekday ?? 1) + 5) % 7 + 1  // Foundation: 1 = Sunday; ours: 1 = Monday
            let date = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            if !holidays.contains(date) {
                for range in calendar.hours[isoWeekday] ?? [] {
                    guard let open = time(range.start, on: dayStart, gregorian),
                          let close = time(range.end, on: dayStart, gregorian) else { continue }
                    let from = max(cursor, open), to = min(end, close)
                    if to > from { total += to.timeIntervalSince(from) }
                }
            }
            guard let next = gregorian.date(byAdding: .day, value: 1, to: dayStart), next > cursor else { break }
            cursor = next
        }
        return total
    }
}

/// Where a wait's SLA stands at an instant: time used and left on its clock, pauses excluded.
public struct SLAStatus: Hashable, Sendable {
    /// Clock time since the wait began, minus its pauses.
    public var elapsed: TimeInterval
    /// Clock time until the deadline (frozen while paused; 0 once it passed).
    public var remaining: TimeInterval
    public var paused: Bool
    /// The deadline as it stands (while paused, the one it will move from on resume).
    public var deadline: Date

    /// The status at `now` of a wait that began at `waitStartedAt`, whose ended pauses took
    /// `pausedSeconds` of `clock` (its `deadline` has moved by them), paused since `pausedAt` if set.
    public init(waitStartedAt: Date, deadline: Date, pausedAt: Date?, pausedSeconds: TimeInterval, now: Date, clock: SLAClock) {
        let stop = pausedAt.map { min($0, now) } ?? now
        elapsed = max(0, clock.seconds(from: waitStartedAt, to: stop) - pausedSeconds)
        remaining = clock.seconds(from: stop, to: deadline)
        paused = pausedAt != nil
        self.deadline = deadline
    }
}
