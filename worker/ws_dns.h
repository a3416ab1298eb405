/*
 * ws_dns.h - name lookups for the websocket clients, on the worker's loop.
 *
 * Owns: one libevent evdns resolver per ws_loop and the lookups it has
 * outstanding. Debian's libwebsockets 4.1 resolves with a blocking
 * getaddrinfo() on the thread that connects, which is the call's only
 * thread: a slow resolver would stall the 20 ms pacer. So ws.c looks the
 * name up here first and hands libwebsockets a numeric address.
 *
 * Never blocks, and never takes longer than WS_DNS_BOUND_MS for a lookup
 * however dead the nameservers are (its own timeout and retry count,
 * whatever resolv.conf says). Private to ws.c.
 */
#ifndef VG_WS_DNS_H
#define VG_WS_DNS_H

#include <stddef.h>

/* 1.5 s a try, two tries: the longest a lookup takes before it fails. */
#define WS_DNS_BOUND_MS 3000
/* Room for any numeric address a lookup answers with, and its NUL. */
#define WS_DNS_ADDR_LEN 46

struct event_base;
struct ws_dns;
struct ws_dns_lookup;

/*
 * addr: the numeric address (IPv4 preferred: most reachable), or NULL and
 * err says why (a library message, no host name).
 */
typedef void (*ws_dns_cb)(void *arg, const char *addr, const char *err);

/*
 * Reads resolv_conf (NULL or "": /etc/resolv.conf) and /etc/hosts. A file
 * that cannot be read is logged and the resolver asks 127.0.0.1, as libc
 * does. 0 or -ENOMEM.
 */
int ws_dns_new(struct ws_dns **out, struct event_base *base, const char *resolv_conf);

/*
 * Lookups still outstanding never call back. NULL is fine. Only at exit:
 * with a lookup's answer still queued on the loop, the resolver itself is
 * left allocated, since libevent would touch it when the queue runs.
 */
void ws_dns_free(struct ws_dns *d);

/*
 * Looks host up; cb runs exactly once unless cancelled: from the loop, or
 * before this returns when the answer is at hand (/etc/hosts, a numeric
 * host, a failure to start). *out is the handle while a lookup is
 * outstanding, else NULL.
 */
void ws_dns_lookup(struct ws_dns_lookup **out, struct ws_dns *d, const char *host,
		   ws_dns_cb cb, void *arg);

/* cb will not run; what the lookup holds goes when libevent lets go. NULL is fine. */
void ws_dns_cancel(struct ws_dns_lookup *q);

#endif
