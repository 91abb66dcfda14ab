@testable import BatonCore
import Foundation
import Testing

/// Every day of the week, all day, in `zone`: working time is wall time, DST days included.
private func alwaysOpen(_ zone: String) -> BusinessCalendar {
    let day = [MinuteRange(start: 0, end: 1440)]
    return BusinessCalendar(name: "always", timezone: zone, hours: [1: day, 2: day, 3: day, 4: day, 5: day, 6: day, 7: day])
}

/// The paused time and the moved deadline on business-hours and wall clocks: calendar gaps,
/// weekends, holidays, DST in Berlin and New York.
@Suite struct SLAClockTests {
    let berlin = SLAClock(calendar: weekdayCalendar("office", zone: "Europe/Berlin"))
    let newYork = SLAClock(calendar: weekdayCalendar("office", zone: "America/New_York"))

    @Test func pausedFridayAfternoonToMondayMorningIsTwoBusinessHours() {
        let paused = instant("2026-03-06T16:00:00+01:00"), resumed = instant("2026-03-09T10:00:00+01:00")
        #expect(berlin.seconds(from: paused, to: resumed) == 2 * 3600)
        // Deadline Friday 17:00 (1h left at the pause) moves by 2 business hours to Monday 11:00, not by 66 hours.
        #expect(berlin.moved(instant("2026-03-06T17:00:00+01:00"), pausedAt: paused, resumedAt: resumed)
                == instant("2026-03-09T11:00:00+01:00"))
    }

    @Test func aPauseOverTheWeekendOnlyMovesNothing() {
        let deadline = instant("2026-03-09T12:00:00+01:00")
        let paused = instant("2026-03-07T10:00:00+01:00"), resumed = instant("2026-03-08T18:00:00+01:00")
        #expect(berlin.seconds(from: paused, to: resumed) == 0)
        #expect(berlin.moved(deadline, pausedAt: paused, resumedAt: resumed) == deadline)
    }

    @Test func aPauseOutsideOpeningHoursOnAWeekdayMovesNothing() {
        let deadline = instant("2026-03-04T12:00:00+01:00")
        #expect(berlin.moved(deadline, pausedAt: instant("2026-03-03T18:00:00+01:00"),
                             resumedAt: instant("2026-03-04T08:30:00+01:00")) == deadline)
    }

    @Test func holidaysDoNotCountAsPausedTime() {
        // Thursday 24 Dec 16:00 to Monday 28 Dec 10:00, Friday 25 Dec a holiday: 1h + 1h.
        let clock = SLAClock(calendar: weekdayCalendar("office", holidays: ["2026-12-25"]))
        let paused = instant("2026-12-24T16:00:00+01:00"), resumed = instant("2026-12-28T10:00:00+01:00")
        #expect(clock.seconds(from: paused, to: resumed) == 2 * 3600)
        #expect(clock.moved(instant("2026-12-24T16:30:00+01:00"), pausedAt: paused, resumedAt: resumed)
                == instant("2026-12-28T10:30:00+01:00"))
    }

    @Test func berlinSpringForwardKeepsBusinessHoursInLocalTime() {
        // Clocks go from CET to CEST on Sunday 29 March 2026.
        let paused = instant("2026-03-27T16:00:00+01:00"), resumed = instant("2026-03-30T10:00:00+02:00")
        #expect(berlin.seconds(from: paused, to: resumed) == 2 * 3600)
        #expect(berlin.moved(instant("2026-03-30T09:30:00+02:00"), pausedAt: paused, resumedAt: resumed)
                == instant("2026-03-30T11:30:00+02:00"))
    }

    @Test func berlinFallBackKeepsBusinessHoursInLocalTime() {
        // CEST to CET on Sunday 25 October 2026.
        let paused = instant("2026-10-23T16:00:00+02:00"), resumed = instant("2026-10-26T10:00:00+01:00")
        #expect(berlin.seconds(from: paused, to: resumed) == 2 * 3600)
        #expect(berlin.moved(instant("2026-10-26T09:15:00+01:00"), pausedAt: paused, resumedAt: resumed)
                == instant("2026-10-26T11:15:00+01:00"))
    }

    @Test func newYorkSpringForwardAndFallBack() {
        // EST to EDT on Sunday 8 March 2026; EDT to EST on Sunday 1 November 2026.
        let paused = instant("2026-03-06T16:00:00-05:00"), resumed = instant("2026-03-09T10:00:00-04:00")
        #expect(newYork.seconds(from: paused, to: resumed) == 2 * 3600)
        #expect(newYork.moved(instant("2026-03-09T09:30:00-04:00"), pausedAt: paused, resumedAt: resumed)
                == instant("2026-03-09T11:30:00-04:00"))
        let pausedFall = instant("2026-10-30T16:00:00-04:00"), resumedFall = instant("2026-11-02T10:00:00-05:00")
        #expect(newYork.seconds(from: pausedFall, to: resumedFall) == 2 * 3600)
        #expect(newYork.moved(instant("2026-10-30T16:30:00-04:00"), pausedAt: pausedFall, resumedAt: resumedFall)
                == instant("2026-11-02T10:30:00-05:00"))
    }

    @Test func aCalendarOpenAllDayCountsTheShortAndTheLongDSTDay() {
        let berlinAlways = SLAClock(calendar: alwaysOpen("Europe/Berlin"))
        #expect(berlinAlways.seconds(from: instant("2026-03-28T12:00:00+01:00"), to: instant("2026-03-30T12:00:00+02:00")) == 47 * 3600)
        #expect(berlinAlways.seconds(from: instant("2026-10-24T12:00:00+02:00"), to: instant("2026-10-26T12:00:00+01:00")) == 49 * 3600)
        let newYorkAlways = SLAClock(calendar: alwaysOpen("America/New_York"))
        #expect(newYorkAlways.seconds(from: instant("2026-03-07T12:00:00-05:00"), to: instant("2026-03-09T12:00:00-04:00")) == 47 * 3600)
        #expect(newYorkAlways.seconds(from: instant("2026-10-31T12:00:00-04:00"), to: instant("2026-11-02T12:00:00-05:00")) == 49 * 3600)
    }

    @Test func theWallClockMovesTheDeadlineByThePausedTime() {
        let wall = SLAClock()
        #expect(wall.seconds(from: t0, to: t0.addingTimeInterval(5400)) == 5400)
        #expect(wall.moved(t0.addingTimeInterval(3600), pausedAt: t0.addingTimeInterval(600), resumedAt: t0.addingTimeInterval(6600))
                == t0.addingTimeInterval(3600 + 6000))
    }

    @Test func aPauseThatOutlastsTheDeadlineKeepsWhatWasLeft() {
        // 30 min left at the pause; resumed 3 days later: 30 min from then.
        let wall = SLAClock()
        let deadline = t0.addingTimeInterval(1800)
        #expect(wall.moved(deadline, pausedAt: t0, resumedAt: t0.addingTimeInterval(3 * 86400))
                == t0.addingTimeInterval(3 * 86400 + 1800))
        #expect(berlin.moved(instant("2026-03-02T17:00:00+01:00"), pausedAt: instant("2026-03-02T16:30:00+01:00"),
                             resumedAt: instant("2026-03-05T12:00:00+01:00")) == instant("2026-03-05T12:30:00+01:00"))
    }

    @Test func aPauseAfterTheDeadlineOrOfNoLengthMovesNothing() {
        let wall = SLAClock()
        let deadline = t0.addingTimeInterval(60)
        #expect(wall.moved(deadline, pausedAt: t0.addingTimeInterval(120), resumedAt: t0.addingTimeInterval(600)) == deadline)
        #expect(wall.moved(deadline, pausedAt: t0, resumedAt: t0) == deadline)
        #expect(wall.seconds(from: t0, to: t0.addingTimeInterval(-5)) == 0)
    }

    @Test func theWaitsClockIsItsCalendarOnlyForBusinessHours() {
        let calendars = ["office": weekdayCalendar("office")]
        #expect(SLAClock(WaitForSLA(event: "x", within: TimeSpan(seconds: 60)), calendars: calendars).calendar == nil)
        #expect(SLAClock(WaitForSLA(event: "x", within: TimeSpan(seconds: 60), clock: .businessHours, calendar: "office"),
                         calendars: calendars).calendar?.name == "office")
        // An unknown calendar counts on the wall clock, as the deadline itself does.
        #expect(SLAClock(WaitForSLA(event: "x", within: TimeSpan(seconds: 60), clock: .businessHours, calendar: "gone"),
                         calendars: calendars).calendar == nil)
    }

    @Test func workingTimeAndDeadlineAreInverse() {
        // Over many starts and lengths, the working time to the deadline is the length asked for.
        let calendar = weekdayCalendar("office", friday: "09:00-16:00", holidays: ["2026-03-11"])
        var start = instant("2026-03-02T07:13:00+01:00")
        for step in 0..<60 {
            let seconds = TimeInterval((step * 3917) % 40000 + 1)
            let deadline = BusinessClock.deadline(from: start, adding: seconds, in: calendar)
            #expect(abs(BusinessClock.workingTime(from: start, to: deadline, in: calendar) - seconds) < 0.001)
            start = start.addingTimeInterval(3 * 3600 + 17 * 60)
        }
    }
}
