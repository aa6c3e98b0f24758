import SISync

/// The one place that makes what `sisync-api` serves from its configuration: the API of one
/// store, or with `--tenants DIR` every tenant's under `/t/NAME/…` (each with its own store
/// and clients). A tenant whose file does not load is left out with a warning and answers
/// 404, as `sisyncd --tenants` keeps serving the others.
package enum APIHandlerFactory {
    package static func make(configuration: Configuration, tenants directory: String?, log: EventLog, metrics: APIMetrics) throws -> any HTTPHandler {
        var tenants: [(name: String, configuration: Configuration)]?
        if let directory {
            tenants = []
            for entry in try TenantDirectory(path: directory).load() {
                switch entry.configuration {
                case .success(let c): tenants?.append((entry.name, c))
                case .failure(let e): log.log(LogEvent(.apiService, .warning, "tenant \(entry.name) is not served: \(e)"))
                }
            }
        }
        return APIService(configuration: configuration, tenants: tenants, log: log) { _, _, kind in
            metrics.recordThrottle(kind.rawValue)
        }
    }
}
