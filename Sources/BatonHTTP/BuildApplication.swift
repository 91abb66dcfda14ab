import Baton
import Hummingbird
import Logging
import ServiceLifecycle

/// The routes of `baton-server`: health and the contract without a token, everything under `/v1`
/// behind a bearer token, every error as problem+json.
public func buildRouter(store: Store, settings: ServerSettings = ServerSettings()) -> Router<BatonRequestContext> {
    let router = Router(context: BatonRequestContext.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ProblemMiddleware())
    HealthController(store: store, settings: settings).register(on: router)
    HooksController(store: store, settings: settings).register(on: router)
    let v1 = router.group("v1").add(middleware: TokenAuthenticator(store: store, cache: TokenCache()))
    InstancesController(store: store, settings: settings, wake: WakeCoalescer(store: store), starts: StartCoalescer(store: store))
        .register(on: v1)
    SignalsController(store: store, settings: settings).register(on: v1)
    ContactsController(store: store, settings: settings).register(on: v1)
    OperationsController(store: store, settings: settings).register(on: v1)
    DefinitionsController(store: store, settings: settings).register(on: v1)
    return router
}

/// The application `baton-server` runs: the router on `host:port`. `services` run beside the
/// HTTP server in one ServiceGroup and stop with it.
public func buildApplication(store: Store, host: String, port: Int, settings: ServerSettings = ServerSettings(),
                             services: [any Service] = [], logger: Logger) -> some ApplicationProtocol {
    Application(
        router: Console.register(on: buildRouter(store: store, settings: settings), store: store),
        configuration: .init(address: .hostname(host, port: port), serverName: "baton"),
        services: services,
        logger: logger)
}
