/*
 * sup_listen.c - the call listeners: accept, hand off, or turn away.
 *
 * Two listeners feed one pool: AudioSocket ([vagentd] listen) and, when
 * configured, Twilio Media Streams ([twilio] listen). A Twilio socket is
 * handed over before its websocket upgrade, flagged CHAN_F_TWILIO; the
 * worker completes the handshake (call_twilio.c). Turned away, it is
 * closed at once like an AudioSocket one, and Twilio goes on with the
 * TwiML after <Connect>.
 *
 * The listener stays open for the life of the process, draining included:
 * a real Asterisk moves on to the next dialplan step when the server
 * closes the connection, but hangs the call up when the connection is
 * refused (protocols.md 7.5). So a call we cannot take is accepted and
 * closed at once, and counted.
 *
 * The accepted socket is handed to a worker and closed here straight
 * away; the supervisor never keeps a call's socket and never reads it.
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/chan.h"

#define ACCEPTS_PER_WAKEUP 64
#define EMFILE_PAUSE_MS 100

int listen_tcp(const char *host, int port, int backlog, int *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char ports[8];
	int rc, fd = -1, one = 1, saved = 0;

	snprintf(ports, sizeof(ports), "%d", port);
	rc = getaddrinfo(host[0] ? host : NULL, ports, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: %s", host, port, gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(saved));
		return -saved;
	}
	*out = fd;
	return 0;
}

int listen_open(struct sup *s, char *err, size_t errlen)
{
	int rc = listen_tcp(s->conf->listen_host, s->conf->listen_port, s->conf->backlog,
			    &s->listen_fd, err, errlen);

	if (rc == 0 && s->conf->twilio_listen[0] &&
	    (rc = listen_tcp(s->conf->twilio_host, s->conf->twilio_port, s->conf->backlog,
			     &s->twilio_fd, err, errlen)) < 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " ([twilio] listen)");
	}
	return rc;
}

static void reject(struct sup *s, int fd)
{
	close(fd);
	s->rejected_total++;
}

static void on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct event *ev = arg;
	(void)fd; (void)what;
	event_add(ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sup *s = arg;
	bool changed = false, twilio = lfd == s->twilio_fd;
	struct event *lev = twilio ? s->twilio_ev : s->listen_ev;
	(void)what;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: without a pause this would spin. */
				struct timeval tv = { 0, EMFILE_PAUSE_MS * 1000 };
				log_error("sup", NULL, "accept: %s; pausing the listener",
					  strerror(errno));
				event_del(lev);
				event_base_once(s->base, -1, EV_TIMEOUT, on_resume_accept, lev, &tv);
			}
			break;
		}
		int64_t t = mono_ns();
		changed = true;
		struct wslot *w = s->draining ? NULL : pool_pick_idle(s);
		if (!w) {
			reject(s, fd);
			continue;
		}
		int rc = pool_handoff(s, w, fd, t, twilio ? CHAN_F_TWILIO : 0);
		if (rc < 0) {
			log_error("sup", NULL, "handing a call to worker %d: %s",
				  (int)w->pid, strerror(-rc));
			reject(s, fd);
		}
	}
	if (changed)
		status_changed(s);
}

int listen_start(struct sup *s)
{
	s->listen_ev = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->listen_ev || event_add(s->listen_ev, NULL) < 0)
		return -ENOMEM;
	if (s->twilio_fd < 0)
		return 0;
	s->twilio_ev = event_new(s->base, s->twilio_fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->twilio_ev || event_add(s->twilio_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void listen_close(struct sup *s)
{
	if (s->listen_ev)
		event_free(s->listen_ev);
	if (s->twilio_ev)
		event_free(s->twilio_ev);
	close(s->listen_fd);
	if (s->twilio_fd >= 0)
		close(s->twilio_fd);
}
