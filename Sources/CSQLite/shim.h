#ifndef SISYNC_CSQLITE_SHIM_H
#define SISYNC_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro and does not import into Swift. */
static inline int sisync_sqlite_bind_text_transient(sqlite3_stmt *s, int i, const char *v, int n) {
    return sqlite3_bind_text(s, i, v, n, SQLITE_TRANSIENT);
}
static inline int sisync_sqlite_bind_blob_transient(sqlite3_stmt *s, int i, const void *v, int n) {
    return sqlite3_bind_blob(s, i, v, n, SQLITE_TRANSIENT);
}
/* sqlite3_config is variadic. Memory statistics off: with them on, every allocation
   SQLite makes (several per row written) takes a process-wide mutex. Must come before
   SQLite is initialised (the first open); later it returns SQLITE_MISUSE and changes
   nothing. */
static inline int sisync_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
/* sqlite3_db_config is variadic. Sets whether this connection enforces foreign keys
   (onoff 1 or 0; -1 only asks) and returns the setting in force after the call. Unlike
   PRAGMA foreign_keys, it takes effect inside a transaction: prepared statements are
   expired and prepared again with or without their reference checks. */
static inline int sisync_sqlite_enforce_foreign_keys(sqlite3 *db, int onoff) {
    int now = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, onoff, &now) != SQLITE_OK) return -1;
    return now;
}
#endif
