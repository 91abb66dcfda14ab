import Baton
import Foundation

/// `POST /v1/instances/bulk`: parsing a JSON array or JSON lines of enrollments, reporting bad
/// lines by number the way `batonctl start --file` does, and enrolling the good ones in batches.
enum BulkEnrollment {
    struct Item: Sendable {
        var line: Int
        var workflow: String
        var request: EnrollmentRequest
    }

    struct LineError: Sendable, Codable, Equatable {
        var line: Int
        var message: String
    }

    struct Parsed: Sendable {
        var items: [Item]
        var errors: [LineError]
    }

    /// One enrolled line.
    struct Enrolled: Sendable, Codable {
        var line: Int
        var workflow: String
        var contact: String
        var instance: String
        var created: Bool
    }

    /// The response: counts, each enrolled line, and each refused line.
    struct Report: Sendable, Codable {
        var created: Int
        var existing: Int
        var failed: Int
        var items: [Enrolled]
        var errors: [LineError]
    }

    /// Splits the body into numbered items. A JSON array's elements are numbered from 1; JSON lines
    /// by their line in the body (blank lines are skipped but counted).
    static func parse(_ data: Data, defaultWorkflow: String?, maxItems: Int, maxValueBytes: Int) throws -> Parsed {
        let text = String(decoding: data, as: UTF8.self)
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        var values: [(Int, Result<JSONValue, LineError>)] = []
        if trimmed.first == "[" {
            guard case .array(let elements)? = JSONValue.parse(data) else {
                throw Problem.malformed("the body starts with [ but is not a valid JSON array")
            }
            values = elements.enumerated().map { ($0.offset + 1, .success($0.element)) }
        } else {
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if content.isEmpty { continue }
                if let value = JSONValue.parse(Data(content.utf8)) {
                    values.append((index + 1, .success(value)))
                } else {
                    values.append((index + 1, .failure(LineError(line: index + 1, message: "not valid JSON"))))
                }
            }
        }
        guard !values.isEmpty else { throw Problem.malformed("the body holds no enrollments: send a JSON array or JSON lines") }
        guard values.count <= maxItems else {
            throw Problem.tooLarge("\(values.count) enrollments in one request; the limit is \(maxItems): split the file")
        }
        var parsed = Parsed(items: [], errors: [])
        for (line, value) in values {
            do {
                guard case .object(let object) = try value.get() else {
                    throw Problem.malformed("each enrollment must be a JSON object")
                }
                let fields = JSONFields(object)
                guard let workflow = try fields.optionalString("workflow") ?? defaultWorkflow, !workflow.isEmpty else {
                    throw Problem.malformed("workflow is required (in the line, or as ?workflow= for the whole request)")
                }
                let contact = try fields.recordKey()
                let attributes = try fields.attributes("attributes", maxValueBytes: maxValueBytes)
                parsed.items.append(Item(line: line, workflow: workflow, request: EnrollmentRequest(contact: contact, attributes: attributes)))
            } catch let error as LineError {
                parsed.errors.append(error)
            } catch let problem as Problem {
                parsed.errors.append(LineError(line: line, message: problem.detail))
            }
        }
        return parsed
    }

    /// Enrolls the parsed items, by workflow, in batches of 2,000 (one statement each). Unknown
    /// workflows are checked before anything is stored: each of their lines is reported (with
    /// `strict`, the whole request is refused).
    static func enroll(_ parsed: Parsed, store: Store, strict: Bool) async throws -> Report {
        var errors = parsed.errors
        var byWorkflow: [String: [Item]] = [:]
        var order: [String] = []
        for item in parsed.items {
            if byWorkflow[item.workflow] == nil { order.append(item.workflow) }
            byWorkflow[item.workflow, default: []].append(item)
        }
        var known: [String] = []
        for workflow in order {
            if try await store.workflow(workflow) != nil {
                known.append(workflow)
            } else {
                for item in byWorkflow[workflow]! {
                    errors.append(LineError(line: item.line, message: "unknown workflow \(workflow): apply it first"))
                }
            }
        }
        if strict && !errors.isEmpty {
            errors.sort { $0.line < $1.line }
            throw Problem(.invalid, .unprocessableContent,
                          "\(errors.count) bad line(s), nothing stored (strict): line \(errors[0].line): \(errors[0].message)")
        }
        var enrolled: [Enrolled] = []
        for workflow in known {
            let items = byWorkflow[workflow]!
            var start = 0
            while start < items.count {
                let chunk = Array(items[start..<min(start + 2000, items.count)])
                let results = try await store.enroll(chunk.map(\.request), in: workflow, summaries: false)
                let byContact = Dictionary(results.map { ($0.contact, $0) }, uniquingKeysWith: { a, _ in a })
                for item in chunk {
                    guard let result = byContact[item.request.contact] else { continue }
                    enrolled.append(Enrolled(line: item.line, workflow: workflow, contact: result.contact,
                                             instance: String(result.instance), created: result.created))
                }
                start += 2000
            }
        }
        enrolled.sort { $0.line < $1.line }
        errors.sort { $0.line < $1.line }
        let created = enrolled.filter(\.created).count
        return Report(created: created, existing: enrolled.count - created, failed: errors.count, items: enrolled, errors: errors)
    }
}

extension BulkEnrollment.LineError: Error {}
