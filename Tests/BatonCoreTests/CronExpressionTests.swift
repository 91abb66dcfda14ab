import BatonCore
import Foundation
import Testing

private func cron(_ text: String, _ zone: String = "UTC") -> CronExpression {
    try! CronExpression(text, timeZone: zone)
}

/// The next `count` runs after `start`, as RFC 3339 in UTC.
private func runs(_ text: String, _ zone: String, after start: String, count: Int) -> [String] {
    let expression = cron(text, zone)
    var at = instant(start)
    var out: [String] = []
    for _ in 0..<count {
        guard let next = expression.next(after: at) else { break }
        out.append(RFC3339.string(next))
        at = next
    }
    return out
}

@Suite struct CronExpressionTests {
    @Test func weeklyMondayMorningInBerlinWinterAndSummer() {
        #expect(runs("0 8 * * mon", "Europe/Berlin", after: "2026-03-18T12:00:00Z", count: 3)
            == ["2026-03-23T07:00:00Z", "2026-03-30T06:00:00Z", "2026-04-06T06:00:00Z"])
    }

    @Test func berlinSpringForwardRunsASkippedTimeOnceWhenTheClockJumps() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
        #expect(runs("30 2 * * *", "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 3)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
    }

    @Test func berlinSpringForwardHourlyHasTwentyThreeRunsThatDay() {
        let all = runs("0 * * * *", "Europe/Berlin", after: "2026-03-28T22:59:59Z", count: 30)
        #expect(all.prefix(4) == ["2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
        #expect(all.filter { $0 < "2026-03-29T22:00:00Z" }.count == 23)
        #expect(Set(all).count == all.count)
    }

    @Test func berlinFallBackRunsAFixedTimeOnceAtItsFirstOccurrence() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        #expect(runs("30 2 * * *", "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 3)
            == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"])
    }

    @Test func berlinFallBackEveryHourFollowsTheClockThroughBothPasses() {
        #expect(runs("30 * * * *", "Europe/Berlin", after: "2026-10-24T23:45:00Z", count: 4)
            == ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z", "2026-10-25T03:30:00Z"])
    }

    @Test func newYorkMorningAcrossBothChanges() {
        #expect(runs("0 9 * * *", "America/New_York", after: "2026-03-07T00:00:00Z", count: 2)
            == ["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"])
        #expect(runs("0 9 * * *", "America/New_York", after: "2026-10-31T00:00:00Z", count: 2)
            == ["2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z"])
    }

    @Test func newYorkRepeatedAndSkippedHalfPastOne() {
        // 2026-11-01: 01:30 happens twice (EDT then EST); the first counts.
        #expect(runs("30 1 * * *", "America/New_York", after: "2026-10-31T12:00:00Z", count: 2)
            == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
        // 2026-03-08: 02:30 does not exist; it runs at 03:00 EDT, the jump.
        #expect(runs("30 2 * * *", "America/New_York", after: "2026-03-07T12:00:00Z", count: 2)
            == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
    }

    @Test func sixFieldsRunEveryFewSeconds() {
        #expect(runs("*/2 * * * * *", "UTC", after: "2026-05-01T10:00:01Z", count: 3)
            == ["2026-05-01T10:00:02Z", "2026-05-01T10:00:04Z", "2026-05-01T10:00:06Z"])
        // Through a clock change too, without repeats.
        let near = runs("*/30 * * * * *", "Europe/Berlin", after: "2026-10-25T00:59:00Z", count: 4)
        #expect(near == ["2026-10-25T00:59:30Z", "2026-10-25T01:00:00Z", "2026-10-25T01:00:30Z", "2026-10-25T01:01:00Z"])
    }

    @Test func dayOfMonthOrDayOfWeekWhenBothAreRestricted() {
        // The 13th or any Friday.
        #expect(runs("0 0 13 * fri", "UTC", after: "2026-02-01T00:00:00Z", count: 3)
            == ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"])
        // Weekdays 1-5 of a step list, and Sunday as 7.
        #expect(runs("0 12 * * 7", "UTC", after: "2026-02-01T13:00:00Z", count: 1) == ["2026-02-08T12:00:00Z"])
        #expect(runs("15,45 9-17/4 1 jan-feb *", "UTC", after: "2026-01-01T00:00:00Z", count: 7)
            == ["2026-01-01T09:15:00Z", "2026-01-01T09:45:00Z", "2026-01-01T13:15:00Z", "2026-01-01T13:45:00Z",
                "2026-01-01T17:15:00Z", "2026-01-01T17:45:00Z", "2026-02-01T09:15:00Z"])
    }

    @Test func anImpossibleDateNeverRuns() {
        #expect(cron("0 0 30 2 *").next(after: instant("2026-01-01T00:00:00Z")) == nil)
        #expect(runs("0 0 29 2 *", "UTC", after: "2026-01-01T00:00:00Z", count: 1) == ["2028-02-29T00:00:00Z"])
    }

    @Test func mistakesNameTheField() {
        func message(_ text: String, _ zone: String = "UTC") -> String {
            do { _ = try CronExpression(text, timeZone: zone); return "" } catch { return "\(error)" }
        }
        #expect(message("61 * * * *").hasPrefix("minute field \"61\""))
        #expect(message("* * *").contains("has 3"))
        #expect(message("0 8 * * funday").hasPrefix("day-of-week field"))
        #expect(message("0 8 * * 5-1").contains("runs backwards"))
        #expect(message("*/0 * * * *").contains("positive"))
        #expect(message("0 8 * * *", "Mars/Olympus").contains("unknown time zone"))
    }
}
