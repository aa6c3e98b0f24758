import SISync

/// A PDF of letters that cannot be written (or would replace a file without `--force`) is
/// exit 73, as any file sisync cannot create.
extension LetterPDFError: ClassifiedError {
    package var failureClass: FailureClass { .cannotCreate }
}
