import CMalloc

/// Hands the heap's free pages back to the kernel at the end of a run's phases (issue 34).
/// glibc keeps what a phase freed for later allocations, so a daemon's resident memory
/// stays at the largest phase it has had (the parse's buffers, say) through the seconds
/// the apply transaction takes, and in `--tenants` that is counted once per tenant run.
/// `malloc_trim` costs a walk over the free lists (about a millisecond here).
enum FreedMemory {
    static func returnToSystem() {
        _ = sisync_malloc_trim()
    }
}
