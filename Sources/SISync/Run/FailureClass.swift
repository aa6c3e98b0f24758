/// Why a run or a command failed, which decides the exit code (README, the exit codes under
/// "Commands"; sysexits).
public enum FailureClass: Sendable, Equatable {
    case badData          // 65
    case unavailable      // 69
    case cannotCreate     // 73
    case temporary        // 75
    case configuration    // 78
    case software         // 70
    /// The administrator's request was refused: no such run, user or student, a wrong code,
    /// a hold that ended, a file to import with bad lines (`sisyncctl`'s exit 1).
    case refused          // 1
    /// A failed run read back from the store, which keeps its message but not its class.
    case unrecorded       // 70, as `software`: no exit code is made from a record

    public var exitCode: Int32 {
        switch self {
        case .badData: return 65
        case .unavailable: return 69
        case .cannotCreate: return 73
        case .temporary: return 75
        case .configuration: return 78
        case .software, .unrecorded: return 70
        case .refused: return 1
        }
    }

    /// The class of an error, for a run and a `sisyncctl` command alike. An error of a kind
    /// sisync does not know is a fault of the program (`software`).
    public init(_ error: any Error) {
        switch error {
        case let e as FetchError: self = e.isConfigurationProblem ? .configuration : .unavailable
        case is ExportError: self = .badData
        case let e as OneRosterError:
            switch e {
            case .serverError, .shortRead, .wrongPage: self = .unavailable
            case .notADirectoryOrZip: self = .configuration
            case .missingManifest, .unsupportedVersion, .badManifestValue, .missingFile, .badDocument: self = .badData
            }
        case let e as ZipError:
            switch e {
            case .tooLarge, .unreadable: self = .unavailable
            case .cannotWrite: self = .cannotCreate
            case .notAZip, .unsupported, .corrupt: self = .badData
            }
        case is ConfigError: self = .configuration
        case is RunDirectoryError: self = .cannotCreate
        case let e as StoreError:
            switch e {
            case .locked, .runInProgress, .lockLost, .newerSchema, .interrupted: self = .temporary
            case .cannotOpen, .noDatabase, .unsafeFile, .linkInPath, .hardLinksUnprotected, .readOnly, .noAccess, .notADatabase, .corrupt,
                 .unknownSchemaVersion, .storageFailed, .upgradeBlocked: self = .cannotCreate
            case .unusablePath: self = .configuration
            case .notFound: self = .refused
            // An error SQLite reported that has no class of its own (a busy database past the
            // timeout, an I/O error): the database cannot be used now, which is no bug of sisync.
            case .sqlite: self = .cannotCreate
            case .parameterMismatch: self = .software
            }
        case let e as PostgresError:
            if e.isUnavailable { self = .unavailable; return }
            guard case .query(_, let state?, _, _, _) = e else { self = .software; return }
            // No right to create the schema or its tables, or no room for them.
            if state == "42501" || state == "3F000" || state.hasPrefix("53") { self = .cannotCreate; return }
            self = state == "57014" ? .temporary : .software
        case is StoreCopy.CopyError, is MetricsFileError: self = .cannotCreate
        case is EventFeedError: self = .badData
        case is PostgresURIError, is Arguments.UsageError: self = .configuration
        case is AccessError, is AccountError, is FormError, is HoldError, is HeldPlanError, is RevertError, is PasswordError,
             is PasswordPromptError, is UserImportError, is APIClientError, is WebhookError:
            self = .refused
        case let e as any ClassifiedError: self = e.failureClass
        default: self = .software
        }
    }
}
