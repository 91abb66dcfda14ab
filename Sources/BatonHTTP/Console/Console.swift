import Baton
import Hummingbird

/// The web console at `/`: server-rendered pages over the same Store reads and commands as the
/// API and `batonctl`, signed in with an API token (see `ConsoleSession.swift`), every action a
/// plain HTML form with a CSRF token; the script (`/static/console.js`) only improves.
public enum Console {
    /// Adds the console's routes to the server's router and returns it. The API keeps `/v1`,
    /// `/healthz` and `/readyz`; the console owns `/`, its pages, `/login`, `/logout`, `/live` and `/static/`.
    public static func register(on router: Router<BatonRequestContext>, store: Store) -> Router<BatonRequestContext> {
        let cache = ConsoleCache(store: store)
        let renderer = ConsoleRenderer(cache: cache)
        let sessions = SessionCache()
        let open = router.group(context: ConsoleContext.self).add(middleware: ConsoleErrorMiddleware(renderer: renderer))
        let signedIn = router.group(context: ConsoleContext.self)
            .add(middleware: ConsoleErrorMiddleware(renderer: renderer))
            .add(middleware: ConsoleSessionMiddleware(store: store, cache: sessions))
        LoginController(store: store, renderer: renderer, sessions: sessions).register(public: open, signedIn: signedIn)
        ConsoleController(store: store, renderer: renderer, cache: cache).register(on: signedIn)
        InstancesPages(store: store, renderer: renderer).register(on: signedIn)
        ContactsPages(store: store, renderer: renderer).register(on: signedIn)
        TeamsPages(store: store, cache: cache, renderer: renderer).register(on: signedIn)
        WorkflowsPages(store: store, cache: cache, renderer: renderer).register(on: signedIn)
        OperationsPages(store: store, renderer: renderer).register(on: signedIn)
        return router
    }
}
