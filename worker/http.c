/*
 * http.c - libcurl multi in the worker's libevent loop. See http.h.
 *
 * curl tells us which sockets to watch (socket callback) and when to call
 * it back (timer callback); libevent tells curl when a socket is ready.
 * Finished transfers are collected after every action. An abort only marks
 * the request and arms a zero-delay event: curl handles are never removed
 * from inside one of curl's own callbacks.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"

struct http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct http_req *reqs;		/* live requests */
};

struct http_req {
	struct http_req *next;
	struct http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	const struct http_handlers *hd;
	void *arg;
	bool status_sent, aborted;
	char retry_after[32];
	char errbuf[CURL_ERROR_SIZE];
	struct event *reap;		/* deferred removal after an abort */
};

struct sock {
	struct event *ev;
};

static void check_done(struct http *h);

static void req_free(struct http_req *r)
{
	struct http *h = r->h;

	for (struct http_req **pp = &h->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	if (r->reap)
		event_free(r->reap);
	free(r->body);
	free(r);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running, flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
			     (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running;
	(void)fd; (void)what;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http *h = userp;
	struct sock *s = sockp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			event_free(s->ev);
			free(s);
		}
		curl_multi_assign(h->multi, fd, NULL);
		return 0;
	}
	short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
		   (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return -1;
		curl_multi_assign(h->multi, fd, s);
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(h->base, fd, ev, on_socket, h);
	return s->ev ? event_add(s->ev, NULL) : -1;
}

static int timer_cb(CURLM *multi, long ms, void *userp)
{
	struct http *h = userp;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	(void)multi;

	if (ms < 0)
		return event_del(h->timer);
	return event_add(h->timer, &tv);
}

static void send_status(struct http_req *r)
{
	long status = 0;

	if (r->status_sent || r->aborted)
		return;
	r->status_sent = true;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->hd->on_status)
		r->hd->on_status(r->arg, status, r->retry_after[0] ? r->retry_after : NULL);
}

static size_t header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(buf, "retry-after:", 12)) {
		const char *v = buf + 12;
		while (*v == ' ')
			v++;
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s",
			 (int)strcspn(v, "\r\n"), v);
	}
	return len;
}

static size_t write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t len = size * n;

	if (r->aborted)
		return 0;	/* curl stops the transfer */
	send_status(r);
	if (r->aborted || (r->hd->on_data && !r->hd->on_data(r->arg, buf, len)))
		return 0;
	return len;
}

static void check_done(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct http_req *r;
		long status = 0;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r->aborted)
			continue;	/* its reap event frees it */
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		send_status(r);
		int code = m->data.result;
		if (!r->aborted && r->hd->on_done)
			r->hd->on_done(r->arg, code, status,
				       code ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code)) : NULL);
		if (!r->aborted)
			req_free(r);
	}
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	req_free(arg);
}

int http_new(struct http **out, struct event_base *base)
{
	struct http *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->base = base;
	h->multi = curl_multi_init();
	h->timer = event_new(base, -1, 0, on_timer, h);
	if (!h->multi || !h->timer) {
		http_free(h);
		return -ENOMEM;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->reqs)
		req_free(h->reqs);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->timer)
		event_free(h->timer);
	free(h);
}

int http_start(struct http *h, struct http_req **out, const struct http_opts *o,
	       const struct http_handlers *hd, void *arg)
{
	struct http_req *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->easy = curl_easy_init())) {
		free(r);
		return -ENOMEM;
	}
	r->h = h;
	r->hd = hd;
	r->arg = arg;
	for (int i = 0; o->headers && o->headers[i]; i++)
		r->headers = curl_slist_append(r->headers, o->headers[i]);
	if (o->body) {
		if (!(r->body = malloc(o->body_len + 1))) {
			curl_easy_cleanup(r->easy);
			curl_slist_free_all(r->headers);
			free(r);
			return -ENOMEM;
		}
		memcpy(r->body, o->body, o->body_len);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, o->method);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 o->connect_timeout_ms ? o->connect_timeout_ms : 5000L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	r->next = h->reqs;
	h->reqs = r;
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
		req_free(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

void http_abort(struct http_req *r)
{
	if (!r || r->aborted)
		return;
	r->aborted = true;
	r->reap = event_new(r->h->base, -1, 0, on_reap, r);
	if (r->reap)
		event_active(r->reap, 0, 0);
	else
		req_free(r);	/* no memory for the deferral: only safe outside curl */
}
