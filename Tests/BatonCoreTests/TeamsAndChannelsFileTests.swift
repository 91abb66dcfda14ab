import BatonCore
import Foundation
import Testing

/// The team and channel files: the examples load; each mistake is one exact line.
@Suite struct TeamsAndChannelsFileTests {
    // MARK: The examples

    @Test func exampleTeamsFileParses() throws {
        let file = try DefinitionLoader.teams(from: repositoryFile("examples/teams.yaml"), file: "teams.yaml")
        #expect(file.calendars == [BusinessCalendar(
            name: "emea", timezone: "Europe/Berlin",
            hours: [1: [MinuteRange(start: 540, end: 1020)], 2: [MinuteRange(start: 540, end: 1020)],
                    3: [MinuteRange(start: 540, end: 1020)], 4: [MinuteRange(start: 540, end: 1020)],
                    5: [MinuteRange(start: 540, end: 960)]],
            holidays: ["2026-12-25", "2026-12-26"])])
        #expect(file.teams.map(\.name) == ["sales-emea", "sales-dach", "sales-leads", "retention"])
        #expect(file.teams.map(\.kind) == [.sales, .sales, .sales, .retention])
        #expect(file.teams.first?.manager == "maria")
        #expect(file.teams.first?.members.first == Member(id: "ana", name: "Ana Ruiz", email: "ana@example.com", capacity: 40,
                                                          weight: 2, backup: "ben"))
        #expect(file.teams.flatMap(\.members).first { $0.id == "omar" }?.outOfOfficeUntil == "2026-01-05")
    }

    @Test func exampleChannelsFileParses() throws {
        let file = try DefinitionLoader.channels(from: repositoryFile("examples/channels.yaml"), file: "channels.yaml")
        #expect(file.channels.map(\.name) == ["sales-webhook", "sales-slack", "sales-email"])
        #expect(file.channels.first?.secretEnv == "BATON_SALES_WEBHOOK_SECRET")
        #expect(file.channels[1].urlEnv == "BATON_SLACK_WEBHOOK_URL")
        #expect(file.channels.last?.email?.passwordEnv == "BATON_SMTP_PASSWORD")
    }

    // MARK: Team files

    @Test func duplicateMemberIDAcrossTeams() {
        #expect(teamsIssues("""
            teams:
              - name: a
                members:
                  - { id: ana, name: Ana }
              - name: b
                members:
                  - { id: ana, name: Ana Two }
            """) == [#"teams.yaml:7:15: teams[1].members[0].id: duplicate member id "ana" (first at line 4, in team a); a member id is unique across the file"#])
    }

    @Test func unknownManager() {
        #expect(teamsIssues("""
            teams:
              - name: a
                manager: mria
                members:
                  - { id: maria, name: Maria }
            """) == [#"teams.yaml:3:14: teams[0].manager: unknown member "mria" (did you mean "maria"?) (a manager is the id of a member of some team in this file)"#])
    }

    @Test func unknownBackup() {
        #expect(teamsIssues("""
            teams:
              - name: a
                members:
                  - { id: maria, name: Maria, backup: zed }
                  - { id: ben, name: Ben }
            """) == [#"teams.yaml:4:43: teams[0].members[0].backup: unknown member "zed" (a backup is the id of a member of some team in this file)"#])
    }

    @Test func backupInAnotherTeamIsFine() {
        #expect(teamsIssues("""
            teams:
              - name: a
                manager: rita
                members:
                  - { id: maria, name: Maria, backup: rita }
              - name: b
                members:
                  - { id: rita, name: Rita }
            """) == [])
    }

    @Test func memberWhoIsTheirOwnBackup() {
        #expect(teamsIssues("""
            teams:
              - name: a
                members:
                  - { id: ben, name: Ben, backup: ben }
            """) == ["teams.yaml:4:39: teams[0].members[0].backup: a member cannot be their own backup"])
    }

    @Test func badTimeZoneSuggestsTheClosestOne() {
        #expect(teamsIssues("""
            calendars:
              - { name: c, timezone: Europe/Berln, hours: { mon: "09:00-17:00" } }
            teams:
              - { name: a }
            """) == [#"teams.yaml:2:26: calendars[0].timezone: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?)"#])
    }

    @Test func timeZoneOffsetIsNotAZoneName() {
        #expect(teamsIssues("""
            calendars:
              - { name: c, timezone: "+01:00", hours: { mon: "09:00-17:00" } }
            teams:
              - { name: a }
            """) == [#"teams.yaml:2:26: calendars[0].timezone: unknown time zone "+01:00" (use an IANA name such as Europe/Berlin)"#])
    }

    @Test func badHoursStrings() {
        #expect(teamsIssues("""
            calendars:
              - name: c
                timezone: Europe/Berlin
                hours: { mon: "09:00-17:60", tue: "09:00-25:00", wed: "-09:00-10:00", thu: "09:00-09:00", fri: 9 }
            teams:
              - { name: a }
            """) == [
            #"teams.yaml:4:19: calendars[0].hours.mon: bad hours "09:00-17:60" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:39: calendars[0].hours.tue: bad hours "09:00-25:00" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:59: calendars[0].hours.wed: bad hours "-09:00-10:00" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:80: calendars[0].hours.thu: bad hours "09:00-09:00" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:100: calendars[0].hours.fri: bad hours "9" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
        ])
    }

    @Test func hoursWithSpacesSeveralRangesAndMidnightAreAccepted() throws {
        let file = try DefinitionLoader.teams(from: """
            calendars:
              - name: c
                timezone: Europe/Berlin
                hours: { mon: "09:00 - 12:00, 13:00-17:00", sat: "9:30-24:00" }
            teams:
              - { name: a }
            """, file: "teams.yaml")
        #expect(file.calendars.first?.hours == [1: [MinuteRange(start: 540, end: 720), MinuteRange(start: 780, end: 1020)],
                                                6: [MinuteRange(start: 570, end: 1440)]])
    }

    @Test func badHolidayDates() {
        #expect(teamsIssues("""
            calendars:
              - name: c
                timezone: Europe/Berlin
                hours: { mon: "09:00-17:00" }
                holidays: ["2026-13-01", "2026-1-01", 2026-12-25, "2024-02-29", "2025-02-29"]
            teams:
              - { name: a }
            """) == [
            #"teams.yaml:5:16: calendars[0].holidays[0]: bad date "2026-13-01" (write YYYY-MM-DD, e.g. 2026-12-25)"#,
            #"teams.yaml:5:30: calendars[0].holidays[1]: bad date "2026-1-01" (write YYYY-MM-DD, e.g. 2026-12-25)"#,
            #"teams.yaml:5:69: calendars[0].holidays[4]: bad date "2025-02-29" (write YYYY-MM-DD, e.g. 2026-12-25)"#,
        ])
    }

    @Test func calendarWithNoWorkingDays() {
        #expect(teamsIssues("""
            calendars:
              - name: c
                timezone: Europe/Berlin
                hours: {}
            teams:
              - { name: a }
            """) == ["teams.yaml:4:12: calendars[0].hours: a calendar needs working hours on at least one day"])
    }

    @Test func emptyTeamFile() {
        #expect(teamsIssues("") == ["teams.yaml:1:1: (file): the file is empty; a team file lists teams (and calendars)"])
    }

    // MARK: Channel files

    @Test func channelWithoutURLOrURLEnv() {
        #expect(channelsIssues("""
            channels:
              - { name: hook, type: webhook }
              - { name: chat, type: slack, secret_env: X }
            """) == [
            #"channels.yaml:2:5: channels[0]: a webhook channel needs "url" or "url_env" (the environment variable holding the URL)"#,
            #"channels.yaml:3:5: channels[1]: a slack channel needs "url" or "url_env" (the environment variable holding the URL)"#,
        ])
    }

    @Test func secretEnvThatIsNotAnEnvironmentVariableName() {
        #expect(channelsIssues("""
            channels:
              - { name: hook, type: webhook, url: "https://x.example/h", secret_env: "my secret" }
              - { name: hook2, type: webhook, url: "https://x.example/h", secret_env: 1ABC }
              - { name: hook3, type: webhook, url: "https://x.example/h", secret_env: BATON_SECRET }
            """) == [
            #"channels.yaml:2:74: channels[0].secret_env: "my secret" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: the name of the variable that holds the value, never the value itself)"#,
            #"channels.yaml:3:75: channels[1].secret_env: "1ABC" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: the name of the variable that holds the value, never the value itself)"#,
        ])
    }

    @Test func logIsAReservedChannelName() {
        #expect(channelsIssues("""
            channels:
              - { name: log, type: log }
            """) == [#"channels.yaml:2:13: channels[0].name: "log" is built in and always exists; choose another name"#])
    }

    @Test func logChannelTakesNoURL() {
        #expect(channelsIssues("""
            channels:
              - { name: quiet, type: log }
              - { name: loud, type: log, url: "https://x.example" }
            """) == ["channels.yaml:3:30: channels[1].url: a log channel delivers nothing and takes no URL; types: webhook, slack, log, hubspot, salesforce, email"])
    }

    @Test func channelWithoutAType() {
        #expect(channelsIssues("""
            channels:
              - { name: x }
            """) == [#"channels.yaml:2:5: channels[0].type: missing required field "type""#])
    }

    @Test func channelDefaults() throws {
        let file = try DefinitionLoader.channels(from: "channels:\n  - { name: hook, type: webhook, url: \"https://x.example/h\" }\n",
                                                 file: "channels.yaml")
        #expect(file.channels == [Channel(name: "hook", type: .webhook, url: "https://x.example/h",
                                          timeout: TimeSpan(seconds: 5), maxAttempts: 8)])
    }
}
