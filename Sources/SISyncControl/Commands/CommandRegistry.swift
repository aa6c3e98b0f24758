/// Every `sisyncctl` command, in the order `--help` lists them. The parser, the help, the
/// run lock, the man page test and the completion test read this list; a command exists
/// only by being here.
enum CommandRegistry {
    static var commands: [any ControlSubcommand.Type] { [
        SyncCommand.self, StatusCommand.self, RunsCommand.self,
        RunShowCommand.self, RunRevertCommand.self, RunApproveCommand.self, RunDiscardCommand.self,
        StaffListCommand.self, StaffShowCommand.self, StaffRekeyCommand.self, StudentRekeyCommand.self,
        UserAddCommand.self, UserListCommand.self, UserShowCommand.self, UserApproveCommand.self, UserUnapproveCommand.self,
        UserUnlockCommand.self, UserRemoveCommand.self, UserRenameCommand.self, UserLinkCommand.self, UserUnlinkCommand.self,
        UserAttachCommand.self, UserDetachCommand.self, UserRoleAddCommand.self, UserRoleRemoveCommand.self,
        UserSchoolAddCommand.self, UserSchoolRemoveCommand.self, UserLedgerAddCommand.self, UserLedgerRemoveCommand.self,
        UserPasswdCommand.self, UserLoginCommand.self, UserImportCommand.self,
        UserAssignCommand.self, UserUnassignCommand.self,
        AccessEnableCommand.self, AccessResetCommand.self, AccessPairCommand.self, AccessListCommand.self,
        AccessRevokeCommand.self, AccessInstructionsCommand.self, AccessLettersCommand.self, AccessExportCommand.self,
        FormAddCommand.self, FormListCommand.self, FormDeleteCommand.self, FormUndeleteCommand.self,
        RoleCreateCommand.self, RoleRenameCommand.self, RoleSetCommand.self, RoleShowCommand.self, RoleListCommand.self,
        RoleMergeCommand.self, RoleDeleteCommand.self, RoleUndeleteCommand.self,
        AccessCheckCommand.self, AuditCommand.self, ExplainCommand.self,
        StoreCopyCommand.self,
        APIClientAddCommand.self, APIClientListCommand.self, APIClientRevokeCommand.self,
        EventsCommand.self, WebhookListCommand.self, WebhookResumeCommand.self,
    ] }

    /// The options every command takes, before or after its name. A new one is one line.
    static let globalOptions: [CommandOption] = [
        .value("config", "PATH", "configuration file (default /etc/sisync/sisync.conf, or $SISYNC_CONFIG)"),
        .value("db", "PATH|URL", "database file or postgresql:// URI (instead of the configured one)"),
        .value("tenant", "NAME", "the tenant NAME of `sisyncd --tenants`: its DIR/NAME.conf"),
        .value("tenants", "DIR", "where the tenants are (default /etc/sisync/tenants.d)"),
        .flag("json", "one JSON document on stdout; a failure is {\"error\": {\"message\", \"exit\"}} on stderr"),
        .value("wait", "DURATION", "how long a write waits for a run in progress (default 60s; then exit 75); reads never wait"),
        .flag("no-pager", "at a terminal, write long listings directly instead of through $PAGER (default less -FRX)"),
        .flag("help", "this text, or with a command that command's help (also -h)"),
        .flag("version", "sisyncctl's version (also -V)"),
    ]

    /// The words of a command's name.
    static func words(of command: any ControlSubcommand.Type) -> [String] {
        command.name.split(separator: " ").map(String.init)
    }
}
