/*
 * test_ws.c - unit tests for ws_open() in worker/ws.h.
 *
 * Protects (issue item 1): a URL is taken at its length, not cut to a
 * fixed buffer; one that libwebsockets could not send whole, a malformed
 * one or too many headers is refused with a code, never a callback from
 * inside ws_open, and nothing stays allocated (LeakSanitizer under SAN=1).
 *
 * Protects (issue 10, item 2): the sockets are serviced on the caller's
 * libevent loop, in the caller's thread, with no thread of their own; a
 * refused connection reaches on_close then on_gone from that loop; a
 * connection closed before it connected gets on_gone only.
 *
 * Protects (blocking DNS on the call's thread): a host name is looked up
 * without holding the loop; a resolver that never answers ends the
 * connection in on_close, naming the host, within the bound; a connection
 * closed while its name is being looked up only goes, and the lookup's
 * late answer touches nothing freed (ASan under SAN=1).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../worker/ws.h"
#include "../../worker/ws_dns.h"

static void never(void *arg) { (void)arg; fail_msg("a handler ran inside ws_open"); }
static void never_msg(void *arg, const char *d, size_t n, bool b)
{
	(void)d; (void)n; (void)b;
	never(arg);
}
static void never_close(void *arg, int c, int h, const char *r)
{
	(void)c; (void)h; (void)r;
	never(arg);
}

static const struct ws_handlers h = {
	.on_open = never, .on_message = never_msg, .on_close = never_close, .on_gone = never,
};

static char *url_of(size_t path_len)
{
	const char *head = "ws://127.0.0.1:9/";
	char *u = malloc(strlen(head) + path_len + 1);

	strcpy(u, head);
	memset(u + strlen(head), 'a', path_len - 1);	/* the '/' counts */
	u[strlen(head) + path_len - 1] = '\0';
	return u;
}

static void urls_are_taken_at_their_length_or_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct ws_loop *l;
	struct ws_conn *c;
	const char *hdr[] = { "A: 1", "B: 2", "C: 3", "D: 4", "E: 5", "F: 6", "G: 7", "H: 8",
			      "I: 9", NULL };
	(void)state;

	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	char *ok = url_of(WS_PATH_MAX), *big = url_of(WS_PATH_MAX + 1);
	assert_true(strlen(ok) > 1024);
	assert_int_equal(ws_open(&c, l, big, NULL, &h, NULL), -ENAMETOOLONG);
	assert_null(c);
	assert_int_equal(ws_open(&c, l, "not a url", NULL, &h, NULL), -EINVAL);
	assert_int_equal(ws_open(&c, l, "ftp://127.0.0.1/x", NULL, &h, NULL), -EINVAL);
	assert_int_equal(ws_open(&c, l, ok, hdr, &h, NULL), -E2BIG);
	assert_null(c);
	hdr[8] = NULL;
	assert_int_equal(ws_open(&c, l, ok, hdr, &h, NULL), 0);
	assert_non_null(c);
	ws_close(c);
	free(ok);
	free(big);
	ws_loop_free(l);
	event_base_free(base);
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

struct seen {
	int closes, gones, http_status;
	char reason[160];
	bool in_open;			/* a hook ran inside ws_open or ws_close */
	bool inside;
	struct event_base *base;
};

static void seen_close(void *arg, int code, int http_status, const char *reason)
{
	struct seen *s = arg;
	(void)code;

	s->in_open |= s->inside;
	assert_int_equal(s->gones, 0);		/* on_close comes first */
	s->closes++;
	s->http_status = http_status;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void seen_gone(void *arg)
{
	struct seen *s = arg;

	s->in_open |= s->inside;
	s->gones++;
	event_base_loopbreak(s->base);
}

static const struct ws_handlers seen_h = {
	.on_open = never, .on_message = never_msg, .on_close = seen_close, .on_gone = seen_gone,
};

/* Runs base until a hook breaks it, or 5 s pass. */
static void run(struct event_base *base)
{
	struct timeval five = { 5, 0 };

	event_base_loopexit(base, &five);
	event_base_dispatch(base);
}

static void sockets_are_serviced_on_the_callers_loop_and_thread(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct ws_loop *l;
	struct ws_conn *c;
	int before = threads();
	(void)state;

	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_ptr_equal(ws_loop_base(l), base);
	s.inside = true;
	/* Port 9 (discard) on loopback: nothing listens, the connect is refused. */
	assert_int_equal(ws_open(&c, l, "ws://127.0.0.1:9/x", NULL, &seen_h, &s), 0);
	s.inside = false;
	run(base);
	assert_false(s.in_open);
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.gones, 1);
	assert_int_equal(threads(), before);	/* no service thread */
	ws_close(c);				/* gone already: freed now */
	ws_loop_free(l);
	event_base_free(base);
}

static void a_connection_closed_before_connecting_only_goes(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct ws_loop *l;
	struct ws_conn *c;
	(void)state;

	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_open(&c, l, "ws://127.0.0.1:9/x", NULL, &seen_h, &s), 0);
	s.inside = true;
	ws_close(c);
	s.inside = false;
	run(base);
	assert_false(s.in_open);
	assert_int_equal(s.closes, 0);
	assert_int_equal(s.gones, 1);
	ws_loop_free(l);
	event_base_free(base);
}

static void a_name_in_the_hosts_file_is_connected_to(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct ws_loop *l;
	struct ws_conn *c;
	(void)state;

	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_open(&c, l, "ws://localhost:9/x", NULL, &seen_h, &s), 0);
	run(base);
	assert_int_equal(s.closes, 1);		/* refused by port 9, after the lookup */
	assert_null(strstr(s.reason, "resolve"));
	ws_close(c);
	ws_loop_free(l);
	event_base_free(base);
}

/* A nameserver that never answers: a UDP socket nobody reads. */
struct dead_dns {
	int fd;
	char path[64];
};

static void dead_dns_start(struct dead_dns *d)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	FILE *fp;
	int fd;

	d->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(d->fd >= 0);
	assert_int_equal(bind(d->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(d->fd, (struct sockaddr *)&sa, &len), 0);
	strcpy(d->path, "/tmp/test_ws_resolv.XXXXXX");
	assert_true((fd = mkstemp(d->path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fprintf(fp, "nameserver 127.0.0.1:%d\noptions timeout:30 attempts:5\n", ntohs(sa.sin_port));
	fclose(fp);
}

static void dead_dns_stop(struct dead_dns *d)
{
	unlink(d->path);
	close(d->fd);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct ticker {
	struct event *ev;
	int ticks;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	((struct ticker *)arg)->ticks++;
}

static void a_dead_resolver_ends_the_connection_within_the_bound(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct timeval twenty_ms = { 0, 20000 };
	struct ticker t = { 0 };
	struct dead_dns dns;
	struct ws_loop *l;
	struct ws_conn *c;
	(void)state;

	dead_dns_start(&dns);
	t.ev = event_new(base, -1, EV_PERSIST, on_tick, &t);
	event_add(t.ev, &twenty_ms);
	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_loop_resolver(l, dns.path), 0);
	double t0 = now_ms();
	assert_int_equal(ws_open(&c, l, "ws://stt.nowhere.invalid:9/x", NULL, &seen_h, &s), 0);
	run(base);
	double took = now_ms() - t0;
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.gones, 1);
	assert_non_null(strstr(s.reason, "stt.nowhere.invalid"));
	/* Its own bound, though the file asks for 30 s and 5 tries. */
	assert_true(took >= WS_DNS_BOUND_MS - 500 && took < WS_DNS_BOUND_MS + 1500);
	/* The loop kept turning meanwhile: a blocked one would tick once. */
	assert_true(t.ticks > took / 20 / 3);
	ws_close(c);
	ws_loop_free(l);
	event_free(t.ev);
	event_base_free(base);
	dead_dns_stop(&dns);
}

static void a_connection_closed_while_resolving_only_goes(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct timeval fifth = { 0, 200000 };
	struct dead_dns dns;
	struct ws_loop *l;
	struct ws_conn *c;
	(void)state;

	dead_dns_start(&dns);
	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_loop_resolver(l, dns.path), 0);
	assert_int_equal(ws_open(&c, l, "ws://stt.nowhere.invalid:9/x", NULL, &seen_h, &s), 0);
	event_base_loopexit(base, &fifth);
	event_base_dispatch(base);		/* the query is out, unanswered */
	assert_int_equal(s.gones, 0);
	ws_close(c);
	run(base);				/* to on_gone */
	assert_int_equal(s.closes, 0);
	assert_int_equal(s.gones, 1);
	event_base_loopexit(base, &fifth);
	event_base_dispatch(base);		/* libevent's cancelled answer comes, to nobody */
	ws_loop_free(l);
	event_base_free(base);
	dead_dns_stop(&dns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls_are_taken_at_their_length_or_refused),
		cmocka_unit_test(sockets_are_serviced_on_the_callers_loop_and_thread),
		cmocka_unit_test(a_connection_closed_before_connecting_only_goes),
		cmocka_unit_test(a_name_in_the_hosts_file_is_connected_to),
		cmocka_unit_test(a_dead_resolver_ends_the_connection_within_the_bound),
		cmocka_unit_test(a_connection_closed_while_resolving_only_goes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
