/*
 * ws_dns.c - name lookups for the websocket clients. See ws_dns.h.
 *
 * libevent's evdns answers on the worker's own event_base: UDP to the
 * nameservers of resolv_conf, names in /etc/hosts answered at once.
 *
 * Lifetime, the part libevent makes subtle: a lookup's callback runs from
 * a deferred callback on the loop, even after evdns_getaddrinfo_cancel()
 * (it then says EVUTIL_EAI_CANCEL), and that deferred callback reads the
 * evdns_base. So a lookup is freed only by its callback, a cancel only
 * detaches the owner, and the evdns_base is freed only when no callback is
 * still to come.
 */
#include "ws_dns.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../common/log.h"

struct ws_dns_lookup {
	struct ws_dns_lookup *next;	/* d->live */
	struct ws_dns *d;		/* NULL once the resolver is freed */
	struct evdns_getaddrinfo_request *req;
	ws_dns_cb cb;			/* NULL once cancelled */
	void *arg;
};

struct ws_dns {
	struct evdns_base *evdns;
	struct ws_dns_lookup *live;	/* each one's callback is still to come */
};

static void unlink_lookup(struct ws_dns_lookup *q)
{
	if (!q->d)
		return;
	for (struct ws_dns_lookup **pp = &q->d->live; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	q->d = NULL;
}

/* IPv4 first: a host without IPv6 routes is common, the reverse rare. */
static const char *pick(const struct evutil_addrinfo *res, char *buf, size_t len)
{
	const struct evutil_addrinfo *v6 = NULL;

	for (const struct evutil_addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET)
			return evutil_inet_ntop(AF_INET,
						&((const struct sockaddr_in *)a->ai_addr)->sin_addr,
						buf, len);
		if (a->ai_family == AF_INET6 && !v6)
			v6 = a;
	}
	if (!v6)
		return NULL;
	return evutil_inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)v6->ai_addr)->sin6_addr,
				buf, len);
}

static void on_answer(int err, struct evutil_addrinfo *res, void *arg)
{
	struct ws_dns_lookup *q = arg;
	char buf[WS_DNS_ADDR_LEN];
	const char *addr = err ? NULL : pick(res, buf, sizeof(buf));

	unlink_lookup(q);
	if (q->cb)
		q->cb(q->arg, addr, err ? evutil_gai_strerror(err) : addr ? NULL : "no address");
	if (res)
		evutil_freeaddrinfo(res);
	free(q);
}

/* evdns's own lines ("nameserver ... has failed") into our log, not stderr. */
static void on_evdns_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_MSG)	/* evdns uses event.h's levels */
		log_warn("ws", NULL, "resolver: %s", msg);
}

int ws_dns_new(struct ws_dns **out, struct event_base *base, const char *resolv_conf)
{
	const char *path = resolv_conf && *resolv_conf ? resolv_conf : "/etc/resolv.conf";
	struct ws_dns *d = calloc(1, sizeof(*d));
	int r;

	*out = NULL;
	evdns_set_log_fn(on_evdns_log);	/* libevent's, process-wide: the same each time */
	/* Its UDP sockets leave the loop while no lookup is outstanding. */
	if (!d || !(d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE))) {
		free(d);
		return -ENOMEM;
	}
	r = evdns_base_resolv_conf_parse(d->evdns, DNS_OPTIONS_ALL, path);
	if (r == 1 || r == 6)	/* libevent's codes: no file; no nameserver line */
		log_warn("ws", NULL, "%s: %s: asking 127.0.0.1", path,
			 r == 1 ? "not found" : "no nameserver");
	else if (r)
		log_warn("ws", NULL, "%s: cannot be read (evdns error %d)", path, r);
	/*
	 * After the file, so that its options cannot stretch the bound: the
	 * caller's audio does not stall meanwhile, but a provider that does
	 * not connect is a call that does not work.
	 */
	if (evdns_base_set_option(d->evdns, "timeout:", "1.5") < 0 ||
	    evdns_base_set_option(d->evdns, "attempts:", "2") < 0 ||
	    evdns_base_set_option(d->evdns, "getaddrinfo-allow-skew:", "0.3") < 0)
		log_warn("ws", NULL, "resolver timeouts not set: libevent defaults apply");
	*out = d;
	return 0;
}

void ws_dns_free(struct ws_dns *d)
{
	if (!d)
		return;
	bool answers_due = d->live != NULL;
	while (d->live) {
		struct ws_dns_lookup *q = d->live;
		d->live = q->next;
		q->d = NULL;
		q->cb = NULL;
	}
	if (!answers_due)
		evdns_base_free(d->evdns, 0);
	free(d);
}

void ws_dns_lookup(struct ws_dns_lookup **out, struct ws_dns *d, const char *host,
		   ws_dns_cb cb, void *arg)
{
	struct ws_dns_lookup *q = calloc(1, sizeof(*q));
	struct evutil_addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
		.ai_flags = EVUTIL_AI_ADDRCONFIG,	/* no AAAA query on an IPv4-only host */
	};

	*out = NULL;
	if (!q) {
		cb(arg, NULL, "out of memory");
		return;
	}
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	q->next = d->live;
	d->live = q;
	/* Answered at once (NULL): on_answer has run and freed q. */
	struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(d->evdns, host, NULL, &hints,
								 on_answer, q);
	if (req) {
		q->req = req;
		*out = q;
	}
}

void ws_dns_cancel(struct ws_dns_lookup *q)
{
	if (!q || !q->cb)
		return;
	q->cb = NULL;
	if (q->d)	/* the resolver lives: its callback comes soon, and frees q */
		evdns_getaddrinfo_cancel(q->req);
}
