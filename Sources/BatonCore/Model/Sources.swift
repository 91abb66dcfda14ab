/// The sources file (`batonctl sources apply sources.yaml`): inbound systems and how their events
/// map to Baton actions.
public struct SourcesFile: Hashable, Sendable, Codable {
    public var sources: [Source]
    public init(sources: [Source]) { self.sources = sources }
}

/// The kinds of inbound source.
public enum SourceKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// HubSpot webhook batches, signed with `X-HubSpot-Signature-v3`.
    case hubspot
    /// `{event, contact, attributes}` from any system, signed with `Baton-Signature`.
    case webhook
}

/// One inbound system.
public struct Source: Hashable, Sendable, Codable {
    public var name: String
    public var kind: SourceKind
    /// The environment variable of baton-server that holds the signing secret.
    public var secretEnv: String
    public var events: [SourceEvent]

    public init(name: String, kind: SourceKind, secretEnv: String, events: [SourceEvent]) {
        self.name = name
        self.kind = kind
        self.secretEnv = secretEnv
        self.events = events
    }

    /// The first mapping that matches an event (nil: the event is counted and ignored).
    public func mapping(type: String, property: String?, value: String?) -> SourceEvent? {
        events.first { event in
            guard event.type == type else { return false }
            if let wanted = event.property, wanted != property { return false }
            if let wanted = event.value, wanted != value { return false }
            return true
        }
    }
}

/// An event type (and for property changes, which property and optionally which value) and what it does.
public struct SourceEvent: Hashable, Sendable, Codable {
    public var type: String
    public var property: String?
    public var value: String?
    public var action: SourceAction

    public init(type: String, property: String? = nil, value: String? = nil, action: SourceAction) {
        self.type = type
        self.property = property
        self.value = value
        self.action = action
    }
}

/// What an inbound event does.
public enum SourceAction: Hashable, Sendable, Codable {
    /// Enroll the contact in this workflow.
    case start(String)
    /// Record this signal for the contact.
    case signal(String)
    /// A person changed the contact's owner in the CRM: record it as a manual reassignment and
    /// deliver an `owner_changed` signal.
    case ownerChanged
    /// The property's new value is the record's lifecycle stage (`stage: true`): HubSpot's internal
    /// names of the default stages are mapped (`Lifecycle.hubspotStages`), other values taken as given.
    case stage
}
