/// A student a parent letter is for, as the store lists them for `access letters`.
public struct LetterStudent: Sendable, Equatable {
    public var studentID: String
    public var firstName: String
    public var lastName: String
    public var schoolID: String
    public var grade: String
    /// Nil until the student has a code.
    public var code: String?

    public var name: String { [firstName, lastName].filter { !$0.isEmpty }.joined(separator: " ") }
}
