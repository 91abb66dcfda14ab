import Baton
import BatonCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns every error a route throws into `application/problem+json`: the caller's mistakes with the
/// one-line message the CLI would print, an unreachable database as 503, and anything else as a 500
/// whose `error_id` is logged with the error (the response never carries the error itself).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = BatonRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.problem(for: error, request: request, logger: context.logger).response
        }
    }

    static func problem(for error: any Error, request: Request, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as BatonError:
            switch error {
            case .notFound(let message): return Problem.notFound(message)
            case .invalid(let message): return Problem.invalid(message)
            case .conflict(let message): return Problem(.conflict, .conflict, message)
            }
        case let errors as DefinitionErrors:
            return Problem.validation(errors)
        case is NIOTooManyBytesError:
            return Problem.tooLarge("the request body is over the server's limit")
        case let error as any HTTPResponseError:
            switch error.status {
            case .notFound:
                return Problem.notFound("no route \(request.method) \(request.uri.path): see GET /v1/openapi.yaml")
            case .contentTooLarge:
                return Problem.tooLarge("the request body is over the server's limit")
            case .methodNotAllowed:
                return Problem(.methodNotAllowed, .methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)")
            case let status where status.code < 500:
                return Problem(.malformed, status, "the request could not be read (\(status.reasonPhrase))")
            default:
                return internalFault(error, request: request, logger: logger)
            }
        default:
            if FailureKind(error) == .unavailable {
                logger.warning("database unavailable", metadata: ["error": .string(String(describing: error))])
                return Problem(.unavailable, .serviceUnavailable, "the database cannot be reached right now; try again shortly")
            }
            return internalFault(error, request: request, logger: logger)
        }
    }

    private static func internalFault(_ error: any Error, request: Request, logger: Logger) -> Problem {
        let id = UUID().uuidString.lowercased()
        logger.error("internal error", metadata: [
            "error_id": .string(id), "error": .string(String(describing: error)),
            "method": .string(request.method.rawValue), "path": .string(request.uri.path),
        ])
        return Problem(.internalFault, .internalServerError, "an internal error occurred; its id is \(id) in the server log",
                       errorID: id)
    }
}
