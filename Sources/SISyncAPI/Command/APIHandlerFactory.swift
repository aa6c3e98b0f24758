import SISync

/// The one place that makes what `sisync-api` serves from its configuration (and, with
/// `--tenants DIR`, every tenant's under `/t/NAME/…`). The application side (`APIService`:
/// router, clients, endpoints) plugs in here; until then every route is 404.
package enum APIHandlerFactory {
    package static func make(configuration: Configuration, tenants: String?) throws -> any HTTPHandler {
        NoRoutesHandler()
    }
}

/// Answers every request 404 with a problem document: the transport runs and can be
/// tested before any endpoint exists.
package struct NoRoutesHandler: HTTPHandler {
    package init() {}

    package func handle(_ request: HTTPRequest) -> HTTPResponse {
        TransportProblem.response(404, "Not Found", "no route of this API matches \(request.method) \(LoggedPath.text(request.path)); see docs/api.md")
    }
}
