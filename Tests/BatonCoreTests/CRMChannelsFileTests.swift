import BatonCore
import Testing

/// CRM channels (hubspot, salesforce) and webhook events in the channel file.
@Suite struct CRMChannelsFileTests {
    @Test func parsesCRMChannelsAndOwnerEvents() throws {
        let file = try DefinitionLoader.channels(from: """
            channels:
              - { name: hubspot, type: hubspot, token_env: HUBSPOT_TOKEN, rate: 100/10s, sync_owner: true }
              - { name: hs-test, type: hubspot, token_env: HS, base_url: "http://127.0.0.1:9000/" }
              - { name: sfdc, type: salesforce, token_env: SF_TOKEN, instance_url: "https://acme.my.salesforce.com", object: Lead, sync_owner: true }
              - { name: warehouse, type: webhook, url: "https://dw.example.com/baton", secret_env: DW_SECRET, events: [owner.changed] }
            """, file: "channels.yaml")
        let hubspot = file.channels[0]
        #expect(hubspot.type == .hubspot && hubspot.tokenEnv == "HUBSPOT_TOKEN" && hubspot.syncOwner == true && hubspot.writesOwners)
        #expect(hubspot.baseURL == "https://api.hubapi.com")
        #expect(hubspot.rate == ChannelRate(calls: 100, period: TimeSpan(seconds: 10)))
        #expect(file.channels[1].baseURL == "http://127.0.0.1:9000")
        #expect(!file.channels[1].writesOwners)
        let sfdc = file.channels[2]
        #expect(sfdc.instanceURL == "https://acme.my.salesforce.com" && sfdc.object == "Lead" && sfdc.writesOwners)
        #expect(file.channels[3].events == ["owner.changed"])
    }

    @Test func rates() {
        #expect(ChannelRate(parsing: "100/10s") == ChannelRate(calls: 100, period: TimeSpan(seconds: 10)))
        #expect(ChannelRate(parsing: "5/s") == ChannelRate(calls: 5, period: TimeSpan(seconds: 1)))
        #expect(ChannelRate(parsing: "1000/1m")?.perSecond == 1000.0 / 60)
        for bad in ["100", "0/10s", "x/10s", "100/", "100/10", "-1/s"] { #expect(ChannelRate(parsing: bad) == nil, "\(bad)") }
    }

    @Test func crmChannelMistakes() {
        #expect(channelsIssues("""
            channels:
              - { name: a, type: hubspot, rate: fast, sync_owner: yes please }
              - { name: b, type: hubspot, token_env: "pat-na1-secret", url: "https://x.example.com" }
              - { name: c, type: salesforce, token_env: SF, object: Account }
              - { name: d, type: salesforce, token_env: SF, instance_url: "acme.salesforce.com", base_url: "https://x", object: Lead }
              - { name: e, type: webhook, url: "https://x.example.com", events: [owner.created], sync_owner: true }
              - { name: f, type: slack, url_env: SLACK, events: [owner.changed] }
            """) == [
            #"channels.yaml:2:5: channels[0]: a hubspot channel needs "token_env" (the environment variable holding the API token)"#,
            #"channels.yaml:2:37: channels[0].rate: bad rate "fast" (write calls per period, e.g. 100/10s)"#,
            #"channels.yaml:2:55: channels[0].sync_owner: expected true or false, found "yes please""#,
            #"channels.yaml:3:42: channels[1].token_env: "pat-na1-secret" is not an environment variable name (write e.g. BATON_WEBHOOK_SECRET: the name of the variable that holds the value, never the value itself)"#,
            #"channels.yaml:3:60: channels[1].url: a hubspot channel takes no "url" (give token_env, and base_url only to point at another API host)"#,
            #"channels.yaml:4:5: channels[2]: a salesforce channel needs "instance_url" (your org's URL, e.g. https://acme.my.salesforce.com)"#,
            #"channels.yaml:4:57: channels[2].object: unknown object "Account"; one of: Lead, Contact"#,
            #"channels.yaml:5:63: channels[3].instance_url: "acme.salesforce.com" is not an http(s) URL (write https://host)"#,
            #"channels.yaml:5:86: channels[3].base_url: base_url is for hubspot channels; a salesforce channel gives instance_url"#,
            #"channels.yaml:6:70: channels[4].events[0]: unknown event "owner.created"; one of: owner.changed"#,
            #"channels.yaml:6:86: channels[4].sync_owner: "sync_owner" is for hubspot and salesforce channels"#,
            #"channels.yaml:7:45: channels[5].events: only webhook channels take events"#,
        ])
    }
}
