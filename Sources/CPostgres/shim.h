#ifndef SISYNC_CPOSTGRES_SHIM_H
#define SISYNC_CPOSTGRES_SHIM_H
#include <libpq-fe.h>

/* PG_DIAG_SQLSTATE and friends are character-literal macros. */
static inline const char *sisync_pq_sqlstate(const PGresult *r) { return PQresultErrorField(r, PG_DIAG_SQLSTATE); }
static inline const char *sisync_pq_primary_message(const PGresult *r) { return PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY); }
static inline const char *sisync_pq_hint(const PGresult *r) { return PQresultErrorField(r, PG_DIAG_MESSAGE_HINT); }
#endif
