import Foundation

/// Deadlines on a wall clock or a business-hours calendar.
public enum BusinessClock {
    /// `start` + `seconds` of working time in `calendar` (its zone, hours per weekday, holidays).
    /// A calendar with no working hours at all never reaches the deadline: the result is
    /// `start` + the same time on the wall clock, so a misconfiguration cannot wait forever.
    public static func deadline(from start: Date, adding seconds: Int, in calendar: BusinessCalendar) -> Date {
        deadline(from: start, adding: TimeInterval(seconds), in: calendar)
    }

    /// `deadline(from:adding:in:)` for a working time with a fraction of a second (what is left of
    /// a wait when its clock stops between whole seconds).
    public static func deadline(from start: Date, adding seconds: TimeInterval, in calendar: BusinessCalendar) -> Date {
        guard let zone = TimeZone(identifier: calendar.timezone),
              calendar.hours.values.contains(where: { !$0.isEmpty })
        else { return start.addingTimeInterval(seconds) }
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = zone
        let holidays = Set(calendar.holidays)
        var remaining = seconds
        var cursor = start
        for _ in 0..<(366 * 10) {
            let dayStart = gregorian.startOfDay(for: cursor)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: dayStart)
            let isoWeekday = ((parts.weekday ?? 1) + 5) % 7 + 1  // Foundation: 1 = Sunday; ours: 1 = Monday
            let date = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            if !holidays.contains(date) {
                for range in (calendar.hours[isoWeekday] ?? []).sorted(by: { $0.start < $1.start }) {
                    guard let open = time(range.start, on: dayStart, gregorian),
                          let close = time(range.end, on: dayStart, gregorian), cursor < close else { continue }
                    let from = max(cursor, open)
                    let available = close.timeIntervalSince(from)
                    if remaining <= available { return from.addingTimeInterval(remaining) }
                    remaining -= available
                    cursor = close
                }
            }
            guard let next = gregorian.date(byAdding: .day, value: 1, to: dayStart) else { break }
            cursor = next
        }
        return start.addingTimeInterval(seconds)
    }

    /// True when `date` falls inside the calendar's working hours (not a holiday). A calendar whose
    /// zone is unknown or that has no hours at all counts as always open: it cannot lock work out.
    public static func isOpen(at date: Date, in calendar: BusinessCalendar) -> Bool {
        nextOpening(atOrAfter: date, in: calendar) == date
    }

    /// The first working instant at or after `date`: `date` itself when the calendar is open then.
    /// Nil when the calendar has no working time in the next ten years; an unusable calendar (unknown
    /// zone, no hours) is open at once.
    public static func nextOpening(atOrAfter date: Date, in calendar: BusinessCalendar) -> Date? {
        guard let zone = TimeZone(identifier: calendar.timezone),
              calendar.hours.values.contains(where: { !$0.isEmpty })
        else { return date }
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = zone
        let holidays = Set(calendar.holidays)
        var cursor = date
        for _ in 0..<(366 * 10) {
            let dayStart = gregorian.startOfDay(for: cursor)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: dayStart)
            let isoWeekday = ((parts.weekday ?? 1) + 5) % 7 + 1
            let day = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            if !holidays.contains(day) {
                for range in (calendar.hours[isoWeekday] ?? []).sorted(by: { $0.start < $1.start }) {
                    guard let open = time(range.start, on: dayStart, gregorian),
                          let close = time(range.end, on: dayStart, gregorian), cursor < close else { continue }
                    return max(cursor, open)
                }
            }
            guard let next = gregorian.date(byAdding: .day, value: 1, to: dayStart) else { break }
            cursor = next
        }
        return nil
    }

    static func time(_ minutes: Int, on day: Date, _ calendar: Calendar) -> Date? {
        if minutes >= 1440 { return calendar.date(byAdding: .day, value: 1, to: day) }
        return calendar.date(bySettingHour: minutes / 60, minute: minutes % 60, second: 0, of: day)
    }
}
