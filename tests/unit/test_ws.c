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
 *
 * Protects (issue 10, the native client): against a scripted server on
 * loopback, the upgrade carries the extra headers, a fragmented message
 * with a ping between its fragments arrives whole and the ping is
 * answered with its payload, text sent before the connection was up goes
 * out masked after it, and the server's close reaches on_close with its
 * code and reason and is answered; a refused upgrade gives its HTTP status.
 * A connection that waits for its owner's poll is read only by one.
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

#include "../../common/buf.h"
#include "../../worker/ws.h"
#include "../../worker/ws_dns.h"
#include "../../worker/ws_handshake.h"

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

/* Runs base until a hook breaks it, or secs pass. */
static void run_for(struct event_base *base, double secs)
{
	struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (time_t)secs) * 1e6) };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void run(struct event_base *base)
{
	run_for(base, 5);
}

/* A tenth of a second: whatever the sockets have is served. */
static void settle(struct event_base *base)
{
	run_for(base, 0.1);
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

/* ---- a scripted server on loopback ---- */

struct srv {
	int lfd, fd;
	struct event *ev;
	struct buf in;			/* what the client sent */
	const char *answer;		/* NULL: 101, then the script; else this reply */
	bool quiet;			/* 101 alone: the test sends what follows */
	bool upgraded;
};

static const uint8_t script[] = {
	0x01, 3, 'h', 'e', 'l',		/* text, not final */
	0x89, 2, 'p', 'i',		/* a ping between the fragments */
	0x80, 2, 'l', 'o',		/* the last fragment */
	0x82, 2, 0xff, 0x00,		/* a binary message */
	0x88, 5, 0x0f, 0xa0, 'b', 'y', 'e',	/* close 4000 "bye" */
};

static void srv_read(evutil_socket_t fd, short what, void *arg)
{
	struct srv *v = arg;
	uint8_t b[4096];
	ssize_t n = recv(fd, b, sizeof(b), 0);
	(void)what;

	if (n <= 0) {
		event_del(v->ev);
		return;
	}
	buf_append(&v->in, b, (size_t)n);
	const char *head = buf_str(&v->in), *end = strstr(head, "\r\n\r\n");
	if (v->upgraded || !end)
		return;
	v->upgraded = true;
	if (v->answer) {
		assert_int_equal(send(fd, v->answer, strlen(v->answer), 0), (ssize_t)strlen(v->answer));
		return;
	}
	const char *k = strstr(head, "Sec-WebSocket-Key: ");
	char key[WS_HS_KEY_LEN], acc[WS_HS_ACCEPT_LEN], r[256];
	assert_non_null(k);
	memcpy(key, k + 19, 24);
	key[24] = '\0';
	ws_hs_accept(key, acc);
	int len = snprintf(r, sizeof(r), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
	size_t more = v->quiet ? 0 : sizeof(script);
	memcpy(r + len, script, more);		/* in the same segment as the head */
	assert_int_equal(send(fd, r, (size_t)len + more, 0), len + (ssize_t)more);
}

static int srv_start(struct srv *v, struct event_base *base, const char *answer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(v, 0, sizeof(*v));
	v->answer = answer;
	v->fd = -1;
	buf_init(&v->in, 0);
	v->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(v->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(v->lfd, 1), 0);
	assert_int_equal(getsockname(v->lfd, (struct sockaddr *)&sa, &len), 0);
	(void)base;
	return ntohs(sa.sin_port);
}

/* Accepts (blocking: the client's connect is already under way) and serves. */
static void srv_serve(struct srv *v, struct event_base *base)
{
	v->fd = accept(v->lfd, NULL, NULL);
	assert_true(v->fd >= 0);
	v->ev = event_new(base, v->fd, EV_READ | EV_PERSIST, srv_read, v);
	event_add(v->ev, NULL);
}

static void srv_stop(struct srv *v)
{
	if (v->ev)
		event_free(v->ev);
	if (v->fd >= 0)
		close(v->fd);
	close(v->lfd);
	buf_free(&v->in);
}

/* The client's frames in what it sent after its request, unmasked. */
static int client_frames(struct srv *v, int *ops, char (*payloads)[64], int max)
{
	const uint8_t *p = (const uint8_t *)strstr(buf_str(&v->in), "\r\n\r\n") + 4;
	const uint8_t *end = v->in.data + v->in.len;
	int n = 0;

	while (p + 6 <= end && n < max) {
		size_t len = p[1] & 0x7f;
		assert_true(p[1] & 0x80);		/* masked */
		assert_true(len < 126);
		assert_true(p + 6 + len <= end);
		ops[n] = p[0] & 0x0f;
		for (size_t i = 0; i < len && i < 63; i++)
			payloads[n][i] = (char)(p[6 + i] ^ p[2 + (i & 3)]);
		payloads[n][len < 63 ? len : 63] = '\0';
		n++;
		p += 6 + len;
	}
	return n;
}

struct talk {
	struct seen s;
	int opens, code;
	char msgs[4][64];
	bool binary[4];
	int nmsgs;
};

static void talk_open(void *arg)
{
	((struct talk *)arg)->opens++;
}

static void talk_msg(void *arg, const char *d, size_t n, bool binary)
{
	struct talk *t = arg;

	assert_true(t->nmsgs < 4 && n < 64);
	memcpy(t->msgs[t->nmsgs], d, n);
	t->msgs[t->nmsgs][n] = '\0';
	t->binary[t->nmsgs++] = binary;
}

static void talk_close(void *arg, int code, int http_status, const char *reason)
{
	struct talk *t = arg;

	t->code = code;
	seen_close(&t->s, code, http_status, reason);
}

static void talk_gone(void *arg)
{
	seen_gone(&((struct talk *)arg)->s);
}

static const struct ws_handlers talk_h = {
	.on_open = talk_open, .on_message = talk_msg, .on_close = talk_close, .on_gone = talk_gone,
};

static void a_server_is_talked_to_on_the_wire(void **state)
{
	struct event_base *base = event_base_new();
	struct talk t = { .s.base = base };
	const char *hdr[] = { "Authorization: Token abc", NULL };
	struct ws_loop *l;
	struct ws_conn *c;
	struct srv v;
	char url[64], pay[4][64];
	int ops[4];
	(void)state;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/v1/listen?x=1", srv_start(&v, base, NULL));
	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_open(&c, l, url, hdr, &talk_h, &t), 0);
	assert_int_equal(ws_send_text(c, "early", 5), 0);	/* queued until the upgrade */
	settle(base);				/* the connect is out */
	srv_serve(&v, base);
	run(base);
	assert_int_equal(t.opens, 1);
	assert_int_equal(t.nmsgs, 2);
	assert_string_equal(t.msgs[0], "hello");
	assert_false(t.binary[0]);
	assert_true(t.binary[1]);
	assert_memory_equal(t.msgs[1], "\xff\x00", 2);
	assert_int_equal(t.s.closes, 1);
	assert_int_equal(t.code, 4000);
	assert_string_equal(t.s.reason, "bye");
	assert_int_equal(t.s.gones, 1);
	assert_true(!strncmp(buf_str(&v.in), "GET /v1/listen?x=1 HTTP/1.1\r\n", 29));
	assert_non_null(strstr(buf_str(&v.in), "\r\nAuthorization: Token abc\r\n"));
	/* The client's frames: the early text, the pong, the close's answer. */
	srv_read(v.fd, EV_READ, &v);		/* whatever is left in the socket */
	assert_int_equal(client_frames(&v, ops, pay, 4), 3);
	assert_int_equal(ops[0], 0x1);
	assert_string_equal(pay[0], "early");
	assert_int_equal(ops[1], 0xA);
	assert_string_equal(pay[1], "pi");
	assert_int_equal(ops[2], 0x8);
	assert_memory_equal(pay[2], "\x0f\xa0", 2);
	ws_close(c);
	ws_loop_free(l);
	srv_stop(&v);
	event_base_free(base);
}

/* ---- a connection that waits for its owner's tick ---- */

struct lazy {
	struct talk t;
	bool skip;
};

static bool lazy_may_wait(void *arg) { (void)arg; return true; }
static bool lazy_may_skip(void *arg) { return ((struct lazy *)arg)->skip; }

static const struct ws_handlers lazy_h = {
	.may_wait = lazy_may_wait, .may_skip = lazy_may_skip, .on_open = talk_open,
	.on_message = talk_msg, .on_close = talk_close, .on_gone = talk_gone,
};

/*
 * Protects (issue 10, a tick's recv answered EAGAIN): a connection that
 * may wait is not read until a poll, and a poll that may skip it leaves
 * the message in the socket; the next poll that may not delivers it.
 */
static void a_waiting_connection_is_read_only_by_a_poll_that_may_not_skip(void **state)
{
	struct event_base *base = event_base_new();
	struct lazy z = { .t.s.base = base };
	static const uint8_t one[] = { 0x81, 3, 'o', 'n', 'e' };
	struct ws_loop *l;
	struct ws_conn *c;
	struct srv v;
	char url[64];
	(void)state;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/tts", srv_start(&v, base, NULL));
	v.quiet = true;
	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_open(&c, l, url, NULL, &lazy_h, &z), 0);
	settle(base);				/* the connect is out */
	srv_serve(&v, base);
	settle(base);
	assert_int_equal(z.t.opens, 1);
	ws_loop_poll(l);			/* from now on it waits for the polls */
	assert_int_equal(send(v.fd, one, sizeof(one), 0), (ssize_t)sizeof(one));
	settle(base);
	assert_int_equal(z.t.nmsgs, 0);		/* no read as it came */
	z.skip = true;
	ws_loop_poll(l);
	settle(base);
	assert_int_equal(z.t.nmsgs, 0);		/* still in the socket */
	z.skip = false;
	ws_loop_poll(l);
	assert_int_equal(z.t.nmsgs, 1);
	assert_string_equal(z.t.msgs[0], "one");
	assert_int_equal(z.t.s.closes, 0);
	ws_close(c);
	ws_loop_free(l);
	srv_stop(&v);
	event_base_free(base);
}

static void a_refused_upgrade_gives_its_http_status(void **state)
{
	struct event_base *base = event_base_new();
	struct seen s = { .base = base };
	struct ws_loop *l;
	struct ws_conn *c;
	struct srv v;
	char url[64];
	(void)state;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/x",
		 srv_start(&v, base, "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"));
	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	assert_int_equal(ws_open(&c, l, url, NULL, &seen_h, &s), 0);
	settle(base);
	srv_serve(&v, base);
	run(base);
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.http_status, 403);
	assert_non_null(strstr(s.reason, "403"));
	assert_int_equal(s.gones, 1);
	ws_close(c);
	ws_loop_free(l);
	srv_stop(&v);
	event_base_free(base);
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
		cmocka_unit_test(a_server_is_talked_to_on_the_wire),
		cmocka_unit_test(a_refused_upgrade_gives_its_http_status),
		cmocka_unit_test(a_waiting_connection_is_read_only_by_a_poll_that_may_not_skip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
