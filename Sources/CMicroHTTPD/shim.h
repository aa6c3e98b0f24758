#ifndef SISYNC_CMICROHTTPD_SHIM_H
#define SISYNC_CMICROHTTPD_SHIM_H
/* microhttpd.h uses these types without including their headers. */
#include <stdint.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>

/* Everything sisync-api sets when it starts one daemon on one listening socket. */
struct sisync_mhd_settings {
    unsigned int flags;
    int listen_fd;
    unsigned int threads;
    unsigned int connection_limit;
    unsigned int connection_timeout;
    size_t memory_limit;
    /* PEM text, both or neither (MHD_USE_TLS). */
    const char *tls_certificate;
    const char *tls_key;
    void *context;
    MHD_AcceptPolicyCallback accept_policy;
    MHD_AccessHandlerCallback access;
    MHD_RequestCompletedCallback completed;
    MHD_NotifyConnectionCallback notify;
    void *(*uri_log)(void *cls, const char *uri, struct MHD_Connection *connection);
};

/* MHD_start_daemon is variadic, which Swift cannot call: the options as a fixed list. */
static inline struct MHD_Daemon *sisync_mhd_start(const struct sisync_mhd_settings *s) {
    struct MHD_OptionItem options[] = {
        { MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL },
        { MHD_OPTION_THREAD_POOL_SIZE, s->threads, NULL },
        { MHD_OPTION_CONNECTION_LIMIT, s->connection_limit, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, s->connection_timeout, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)s->memory_limit, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)s->completed, s->context },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)s->notify, s->context },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)s->uri_log, s->context },
        { MHD_OPTION_END, 0, NULL }, /* the TLS pair goes here when given */
        { MHD_OPTION_END, 0, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    unsigned int flags = s->flags;
    if (s->tls_certificate != NULL && s->tls_key != NULL) {
        flags |= MHD_USE_TLS;
        options[8].option = MHD_OPTION_HTTPS_MEM_CERT;
        options[8].ptr_value = (void *)s->tls_certificate;
        options[9].option = MHD_OPTION_HTTPS_MEM_KEY;
        options[9].ptr_value = (void *)s->tls_key;
    }
    return MHD_start_daemon(flags, 0, s->accept_policy, s->context, s->access, s->context,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/* MHD_get_connection_info is variadic too: one wrapper per value sisync-api reads. */
static inline int sisync_mhd_connection_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return i == NULL ? -1 : i->connect_fd;
}
static inline void *sisync_mhd_socket_context(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i == NULL ? NULL : i->socket_context;
}
static inline const struct sockaddr *sisync_mhd_client_address(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return i == NULL ? NULL : i->client_addr;
}

/* The flag values as plain numbers (the header's enum is imported as a Swift type).
   Suspend and resume: a request that may wait (a password hash, the run lock) is answered
   off libmicrohttpd's threads, which serve every other connection of theirs meanwhile. */
static const unsigned int SISYNC_MHD_FLAGS = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
#endif
