import Baton
import BatonCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Turns every error of a console route into an HTML page with one clear line (never the error's
/// internals: a fault of ours gets an id that names the server log line), and a missing session on
/// a GET into a redirect to the sign-in page.
struct ConsoleErrorMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let renderer: ConsoleRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch ConsoleError.signInRequired {
            return .redirect(to: "/login", type: .normal)
        } catch {
            let (status, message) = Self.describe(error, request: request, logger: context.logger)
            return await renderer.page("error", title: status.reasonPhrase, ["status": Int(status.code), "message": message],
                                 request: request, context: context, status: status)
        }
    }

    static func describe(_ error: any Error, request: Request, logger: Logger) -> (HTTPResponse.Status, String) {
        switch error {
        case ConsoleError.forbidden(let message): return (.forbidden, message)
        case ConsoleError.notFound(let message): return (.notFound, message)
        case ConsoleError.invalid(let message): return (.badRequest, message)
        case BatonError.notFound(let message): return (.notFound, message)
        case BatonError.invalid(let message): return (.badRequest, message)
        case BatonError.conflict(let message): return (.conflict, message)
        case let errors as DefinitionErrors: return (.unprocessableContent, errors.issues.first.map(\.description) ?? "the file has mistakes")
        case is NIOTooManyBytesError: return (.contentTooLarge, "the form is too large")
        case let error as any HTTPResponseError where error.status.code < 500:
            if error.status == .notFound { return (.notFound, "there is no page at \(request.uri.path)") }
            return (error.status, "the request could not be handled (\(error.status.reasonPhrase))")
        default:
            if FailureKind(error) == .unavailable {
                logger.warning("database unavailable", metadata: ["error": .string(String(describing: error))])
                return (.serviceUnavailable, "the database cannot be reached right now; try again shortly")
            }
            let id = UUID().uuidString.lowercased()
            logger.error("internal error", metadata: [
                "error_id": .string(id), "error": .string(String(describing: error)),
                "method": .string(request.method.rawValue), "path": .string(request.uri.path),
            ])
            return (.internalServerError, "an internal error occurred; its id is \(id) in the server log")
        }
    }
}
