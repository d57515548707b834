/* server/watchdog.c: a deadline for reading each request. libmicrohttpd's connection timeout
 * counts idle time only, so a client that drips one header byte a second (slowloris) would hold
 * a connection forever. Every connection is tracked from its start (and again after each
 * answered request, for keep-alive): if the whole request (headers and body) has not arrived
 * --timeout seconds later, a watchdog thread shuts the socket down and MHD closes it. */
#include "server_internal.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct srv_sock {
    int fd;
    uint64_t t_start; /* when the request being read began */
    bool reading;     /* a request is being read */
    bool cut;         /* shut down already */
    srv_sock *prev, *next;
};

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    ol_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        srv_sock *k = calloc(1, sizeof(*k));
        if (!k || !ci) {
            free(k);
            return;
        }
        k->fd = ci->connect_fd;
        k->t_start = ol_time_ns();
        k->reading = true;
        pthread_mutex_lock(&s->socks_mu);
        k->next = s->socks;
        if (s->socks) s->socks->prev = k;
        s->socks = k;
        pthread_mutex_unlock(&s->socks_mu);
        *socket_context = k;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        srv_sock *k = *socket_context;
        pthread_mutex_lock(&s->socks_mu);
        if (k->prev)
            k->prev->next = k->next;
        else
            s->socks = k->next;
        if (k->next) k->next->prev = k->prev;
        pthread_mutex_unlock(&s->socks_mu);
        free(k);
        *socket_context = NULL;
    }
}

static srv_sock *sock_of(struct MHD_Connection *mc) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void srv_watchdog_request_read(ol_server *s, struct MHD_Connection *mc) {
    srv_sock *k = sock_of(mc);
    if (!k) return;
    pthread_mutex_lock(&s->socks_mu);
    k->reading = false;
    pthread_mutex_unlock(&s->socks_mu);
}

void srv_watchdog_request_done(ol_server *s, struct MHD_Connection *mc) {
    srv_sock *k = sock_of(mc);
    if (!k) return;
    pthread_mutex_lock(&s->socks_mu);
    k->reading = true;
    k->t_start = ol_time_ns();
    pthread_mutex_unlock(&s->socks_mu);
}

static void *watchdog_main(void *arg) {
    ol_server *s = arg;
    const uint64_t limit = (uint64_t)s->cfg.timeout_s * 1000000000ull;
    while (!atomic_load(&s->wd_stop)) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        const uint64_t now = ol_time_ns();
        pthread_mutex_lock(&s->socks_mu);
        for (srv_sock *k = s->socks; k; k = k->next)
            if (k->reading && !k->cut && now - k->t_start > limit) {
                shutdown(k->fd, SHUT_RDWR); /* MHD sees the end and closes the connection */
                k->cut = true;
            }
        pthread_mutex_unlock(&s->socks_mu);
    }
    return NULL;
}

MHD_NotifyConnectionCallback srv_watchdog_callback(void) {
    return on_connection;
}

int srv_watchdog_start(ol_server *s) {
    if (s->cfg.timeout_s <= 0) return 0;
    if (pthread_create(&s->wd_thread, NULL, watchdog_main, s) != 0) return OL_ENOMEM;
    s->wd_running = true;
    return 0;
}

void srv_watchdog_stop(ol_server *s) {
    if (!s->wd_running) return;
    atomic_store(&s->wd_stop, true);
    pthread_join(s->wd_thread, NULL);
    s->wd_running = false;
}
