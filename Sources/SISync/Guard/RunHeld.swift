/// Thrown inside a run's transaction when the guard holds the run on what only the
/// transaction can see (the calculated roles it would revoke): everything rolls back.
struct RunHeld: Error {
    var reason: String
}
