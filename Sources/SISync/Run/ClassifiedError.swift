/// An error that says its own class: one from a target the engine does not see (the
/// letters' `LetterPDFError`), which `FailureClass.init(_:)` cannot name.
package protocol ClassifiedError: Error {
    var failureClass: FailureClass { get }
}
