import BatonCore
import Foundation
import Testing

private func deadline(_ start: String, plus seconds: Int, _ calendar: BusinessCalendar = weekdayCalendar(friday: "09:00-16:00"))
    -> Date
{
    BusinessClock.deadline(from: instant(start), adding: seconds, in: calendar)
}

private let hour = 3600

@Suite struct BusinessClockTests {
    @Test func deadlineWithinOneWorkingDay() {
        #expect(deadline("2026-03-02T10:00:00+01:00", plus: 2 * hour) == instant("2026-03-02T12:00:00+01:00"))
    }

    @Test func deadlineEndingExactlyAtClosingStaysThatDay() {
        #expect(deadline("2026-03-06T15:00:00+01:00", plus: hour) == instant("2026-03-06T16:00:00+01:00"))
    }

    @Test func deadlineSpanningTheNightResumesAtOpening() {
        #expect(deadline("2026-03-03T16:30:00+01:00", plus: hour) == instant("2026-03-04T09:30:00+01:00"))
    }

    @Test func deadlineSpanningTheWeekendResumesOnMonday() {
        #expect(deadline("2026-03-06T15:30:00+01:00", plus: hour) == instant("2026-03-09T09:30:00+01:00"))
    }

    @Test func deadlineSkipsHolidays() {
        let calendar = weekdayCalendar(holidays: ["2026-12-25", "2026-12-26"])
        #expect(deadline("2026-12-24T16:30:00+01:00", plus: hour, calendar) == instant("2026-12-28T09:30:00+01:00"))
    }

    @Test func startingOnAHolidayWaitsForTheNextWorkingDay() {
        let calendar = weekdayCalendar(holidays: ["2026-03-02"])
        #expect(deadline("2026-03-02T10:00:00+01:00", plus: hour, calendar) == instant("2026-03-03T10:00:00+01:00"))
    }

    @Test func startingBeforeOpeningCountsFromOpening() {
        #expect(deadline("2026-03-02T07:00:00+01:00", plus: 30 * 60) == instant("2026-03-02T09:30:00+01:00"))
    }

    @Test func startingAfterClosingCountsFromTheNextOpening() {
        #expect(deadline("2026-03-02T19:45:00+01:00", plus: 30 * 60) == instant("2026-03-03T09:30:00+01:00"))
    }

    @Test func startingOnTheWeekendCountsFromMonday() {
        #expect(deadline("2026-03-07T12:00:00+01:00", plus: 90 * 60) == instant("2026-03-09T10:30:00+01:00"))
    }

    @Test func deadlineSpanningSeveralWorkingDays() {
        #expect(deadline("2026-03-02T09:00:00+01:00", plus: 20 * hour) == instant("2026-03-04T13:00:00+01:00"))
    }

    @Test func breaksBetweenRangesAreNotCounted() {
        let ranges = [MinuteRange(parsing: "09:00-12:00")!, MinuteRange(parsing: "13:00-17:00")!]
        let calendar = BusinessCalendar(name: "lunch", timezone: "Europe/Berlin", hours: [1: ranges, 2: ranges])
        #expect(deadline("2026-03-02T11:30:00+01:00", plus: hour, calendar) == instant("2026-03-02T13:30:00+01:00"))
    }

    @Test func springForwardWeekendInBerlin() {
        // Clocks go from 02:00 CET to 03:00 CEST on Sunday 2026-03-29: Friday closes at 15:00 UTC, Monday opens at 07:00 UTC.
        #expect(deadline("2026-03-27T15:30:00+01:00", plus: hour) == instant("2026-03-30T09:30:00+02:00"))
        #expect(deadline("2026-03-27T15:30:00+01:00", plus: hour) == instant("2026-03-30T07:30:00Z"))
    }

    @Test func fallBackWeekendInBerlin() {
        // Clocks go from 03:00 CEST back to 02:00 CET on Sunday 2026-10-25.
        #expect(deadline("2026-10-23T15:30:00+02:00", plus: hour) == instant("2026-10-26T09:30:00+01:00"))
    }

    @Test func workingThroughTheShortDayOfTheDSTChangeCountsItsRealHours() {
        // Sunday 2026-03-29 in Berlin is 23 hours long.
        let calendar = BusinessCalendar(name: "sundays", timezone: "Europe/Berlin", hours: [7: [MinuteRange(start: 0, end: 1440)]])
        #expect(deadline("2026-03-29T00:00:00+01:00", plus: 23 * hour, calendar) == instant("2026-03-30T00:00:00+02:00"))
        #expect(deadline("2026-03-29T00:00:00+01:00", plus: 24 * hour, calendar) == instant("2026-04-05T01:00:00+02:00"))
    }

    @Test func calendarInAnotherTimeZone() {
        let calendar = weekdayCalendar(zone: "America/New_York")
        #expect(deadline("2026-03-02T10:00:00Z", plus: hour, calendar) == instant("2026-03-02T10:00:00-05:00"))
    }

    @Test func calendarWithNoHoursFallsBackToTheWallClock() {
        let calendar = BusinessCalendar(name: "none", timezone: "Europe/Berlin", hours: [:])
        #expect(deadline("2026-03-07T12:00:00+01:00", plus: hour, calendar) == instant("2026-03-07T13:00:00+01:00"))
    }

    @Test func calendarWithOnlyEmptyDaysFallsBackToTheWallClock() {
        let calendar = BusinessCalendar(name: "none", timezone: "Europe/Berlin", hours: [1: [], 2: []])
        #expect(deadline("2026-03-02T12:00:00+01:00", plus: 5 * hour, calendar) == instant("2026-03-02T17:00:00+01:00"))
    }

    @Test func calendarWithAnUnknownTimeZoneFallsBackToTheWallClock() {
        let calendar = weekdayCalendar(zone: "Mars/Olympus")
        #expect(deadline("2026-03-07T12:00:00+01:00", plus: hour, calendar) == instant("2026-03-07T13:00:00+01:00"))
    }

    @Test func deadlineBeyondTenYearsOfWorkingHoursFallsBackToTheWallClock() {
        let calendar = BusinessCalendar(name: "mondays", timezone: "UTC", hours: [1: [MinuteRange(start: 540, end: 600)]])
        // Ten years of Mondays hold about 520 working hours; more than that cannot be reached.
        #expect(deadline("2026-03-02T00:00:00Z", plus: 600 * hour, calendar) == instant("2026-03-02T00:00:00Z").addingTimeInterval(600 * 3600))
    }
}
