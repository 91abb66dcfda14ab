import BatonCore
import Testing

/// Team files: what a right one parses into, and the exact lines for mistakes.
@Suite struct TeamsFileTests {
    @Test func parsesCalendarsTeamsAndMembers() throws {
        let file = try DefinitionLoader.teams(from: """
            calendars:
              - name: emea
                timezone: Europe/Berlin
                hours: { mon: "09:00-12:00,13:00-17:00", fri: "09:00-16:00", sun: "10:00-12:00" }
                holidays: ["2026-12-25", 2028-02-29]
            teams:
              - name: sales-emea
                kind: sales
                calendar: emea
                manager: maria
                members:
                  - { id: ana, name: Ana Ruiz, email: ana@example.com, capacity: 40, weight: 2, backup: ben }
                  - { id: ben, name: Ben Okafor, active: false, out_of_office_until: "2026-12-01", weight: 0, calendar: emea }
              - name: leads
                members:
                  - { id: maria, name: Maria Chen }
            """, file: "teams.yaml")
        #expect(file.calendars == [BusinessCalendar(
            name: "emea", timezone: "Europe/Berlin",
            hours: [1: [MinuteRange(start: 540, end: 720), MinuteRange(start: 780, end: 1020)], 5: [MinuteRange(start: 540, end: 960)],
                    7: [MinuteRange(start: 600, end: 720)]],
            holidays: ["2026-12-25", "2028-02-29"])])
        #expect(file.teams == [
            Team(name: "sales-emea", kind: .sales, calendar: "emea", manager: "maria", members: [
                Member(id: "ana", name: "Ana Ruiz", email: "ana@example.com", capacity: 40, weight: 2, backup: "ben"),
                Member(id: "ben", name: "Ben Okafor", weight: 0, active: false, outOfOfficeUntil: "2026-12-01", calendar: "emea"),
            ]),
            Team(name: "leads", kind: .other, members: [Member(id: "maria", name: "Maria Chen")]),
        ])
    }

    @Test func jsonTeamFile() throws {
        let file = try DefinitionLoader.teams(from: #"{"teams": [{"name": "t", "kind": "service", "members": [{"id": "a", "name": "A"}]}]}"#,
                                              file: "teams.json")
        #expect(file.teams == [Team(name: "t", kind: .service, members: [Member(id: "a", name: "A")])])
    }

    @Test func calendarMistakes() {
        #expect(teamsIssues("""
            calendars:
              - name: emea
                timezone: Europe/Berlinn
                hours: { mon: "9-17", tue: "17:00-09:00", wed: "09:00-13:00,12:00-17:00", thur: "09:00-17:00" }
                holidays: ["2026-02-30", "25.12.2026"]
              - timezone: Mars/Olympus
              - name: emea
                timezone: UTC
                hours: {}
            teams:
              - name: t
            """) == [
            #"teams.yaml:3:15: calendars[0].timezone: unknown time zone "Europe/Berlinn" (did you mean "Europe/Berlin"?)"#,
            #"teams.yaml:4:19: calendars[0].hours.mon: bad hours "9-17" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:32: calendars[0].hours.tue: bad hours "17:00-09:00" (write HH:MM-HH:MM, start before end, several separated by commas: "09:00-12:00,13:00-17:00")"#,
            #"teams.yaml:4:52: calendars[0].hours.wed: bad hours "09:00-13:00,12:00-17:00": the ranges overlap or are out of order"#,
            #"teams.yaml:4:79: calendars[0].hours.thur: unknown key "thur" (did you mean "thu"?)"#,
            #"teams.yaml:5:16: calendars[0].holidays[0]: bad date "2026-02-30" (write YYYY-MM-DD, e.g. 2026-12-25)"#,
            #"teams.yaml:5:30: calendars[0].holidays[1]: bad date "25.12.2026" (write YYYY-MM-DD, e.g. 2026-12-25)"#,
            #"teams.yaml:6:5: calendars[1].name: missing required field "name""#,
            #"teams.yaml:6:5: calendars[1].hours: missing required field "hours" (working hours per weekday, e.g. { mon: "09:00-17:00", tue: "09:00-17:00" })"#,
            #"teams.yaml:6:15: calendars[1].timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin)"#,
            "teams.yaml:9:12: calendars[2].hours: a calendar needs working hours on at least one day",
        ])
    }

    @Test func duplicateCalendarsTeamsAndMembers() {
        #expect(teamsIssues("""
            calendars:
              - { name: emea, timezone: UTC, hours: { mon: "09:00-17:00" } }
              - { name: emea, timezone: UTC, hours: { tue: "09:00-17:00" } }
            teams:
              - name: sales
                members:
                  - { id: ana, name: Ana }
                  - { id: ana, name: Ana Again }
              - name: sales
                members:
                  - { id: ana, name: Ana Elsewhere }
            """) == [
            #"teams.yaml:3:13: calendars[1].name: duplicate calendar "emea" (first at line 2)"#,
            #"teams.yaml:8:15: teams[0].members[1].id: duplicate member id "ana" (first at line 7, in team sales); a member id is unique across the file"#,
            #"teams.yaml:9:11: teams[1].name: duplicate team "sales" (first at line 5)"#,
            #"teams.yaml:11:15: teams[1].members[0].id: duplicate member id "ana" (first at line 7, in team sales); a member id is unique across the file"#,
        ])
    }

    @Test func referencesWithinTheFile() {
        #expect(teamsIssues("""
            calendars:
              - { name: emea, timezone: Europe/Berlin, hours: { mon: "09:00-17:00" } }
            teams:
              - name: sales
                kind: sales
                calendar: emae
                manager: mariaa
                members:
                  - { id: ana, name: Ana, backup: ana }
                  - { id: ben, name: Ben, backup: carl, calendar: apac }
            """) == [
            #"teams.yaml:6:15: teams[0].calendar: unknown calendar "emae" (did you mean "emea"?)"#,
            #"teams.yaml:7:14: teams[0].manager: unknown member "mariaa" (a manager is the id of a member of some team in this file)"#,
            "teams.yaml:9:39: teams[0].members[0].backup: a member cannot be their own backup",
            #"teams.yaml:10:39: teams[0].members[1].backup: unknown member "carl" (a backup is the id of a member of some team in this file)"#,
            #"teams.yaml:10:55: teams[0].members[1].calendar: unknown calendar "apac" (calendars in this file: emea)"#,
        ])
    }

    @Test func memberFieldMistakes() {
        #expect(teamsIssues("""
            teams:
              - name: sales
                kind: sale
                members:
                  - { name: No Id, email: not-an-email, capacity: 0, weight: -1, active: maybe, out_of_office_until: tomorrow }
                  - { id: bo, nmae: Bo }
            """) == [
            #"teams.yaml:3:11: teams[0].kind: unknown value "sale" (did you mean "sales"?); one of: sales, marketing, service, retention, other"#,
            #"teams.yaml:5:9: teams[0].members[0].id: missing required field "id" (a short unique id, e.g. ana)"#,
            #"teams.yaml:5:31: teams[0].members[0].email: "not-an-email" is not an email address (write name@example.com)"#,
            #"teams.yaml:5:55: teams[0].members[0].capacity: expected a whole number greater than 0, found "0""#,
            #"teams.yaml:5:66: teams[0].members[0].weight: expected a whole number of at least 0, found "-1""#,
            #"teams.yaml:5:78: teams[0].members[0].active: expected true or false, found "maybe""#,
            #"teams.yaml:5:106: teams[0].members[0].out_of_office_until: bad date "tomorrow" (write YYYY-MM-DD, e.g. 2026-12-01)"#,
            #"teams.yaml:6:9: teams[0].members[1].name: missing required field "name" (the member's full name)"#,
            #"teams.yaml:6:19: teams[0].members[1].nmae: unknown key "nmae" (did you mean "name"?)"#,
        ])
    }

    @Test func shapeMistakes() {
        #expect(teamsIssues("calendars: []\n") == [#"teams.yaml:1:1: teams: missing required field "teams" (a list of teams with their members)"#])
        #expect(teamsIssues("teams:\n  name: sales\n") == [#"teams.yaml:2:3: teams: expected a list, found a mapping"#])
        #expect(teamsIssues("teams: [\n") == ["teams.yaml:2:1: (file): not valid YAML: did not find expected node content (while parsing a flow node at line 2, column 1)"])
        #expect(teamsIssues("") == ["teams.yaml:1:1: (file): the file is empty; a team file lists teams (and calendars)"])
    }
}
