import BatonCore

extension JSONFields {
    /// The record a request names, as its storage key: `record` (`KIND:ID`, e.g. `deal:D-7`) or
    /// `contact` (a contact's id), exactly one of them.
    func recordKey() throws -> String {
        let record = try optionalString("record")
        let contact = try optionalString("contact")
        switch (record, contact) {
        case (let record?, nil):
            do { return try RecordRef.parseOption(record).storageKey } catch { throw Problem.malformed("\(prefix)record: \(error.message)") }
        case (nil, let contact?):
            guard !contact.isEmpty else { throw Problem.malformed("\(prefix)contact must not be empty") }
            if let problem = RecordRef.contactIDProblem(contact) {
                throw Problem.malformed("\(prefix)contact: \(problem.replacingOccurrences(of: "use --record", with: "send record:"))")
            }
            return contact
        case (nil, nil): throw Problem.malformed("\(prefix)contact (a contact's id) or record (KIND:ID) is required")
        default: throw Problem.malformed("give \(prefix)contact or \(prefix)record, not both")
        }
    }
}
