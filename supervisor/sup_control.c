/*
 * sup_control.c - the control socket vagentctl talks to.
 *
 * <run_dir>/control.sock, a Unix stream socket, mode 0600: only the
 * service user and root may steer the daemon. One request line per
 * connection, one reply line, then close:
 *   reload  -> "ok generation N" | "error: <why> (generation N kept)"
 *   drain   -> "ok draining"       (stop taking calls, keep running)
 *   resume  -> "ok" | "error: ..."
 *   stop    -> "ok stopping"       (as SIGTERM)
 * A client that sends nothing within 2 s is dropped; nothing here blocks.
 */
#include "sup.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"

struct ctl_conn {
	struct sup *s;
	int fd;
	struct event *ev;
	char buf[128];
	size_t len;
};

static void conn_close(struct ctl_conn *c)
{
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static void handle(struct sup *s, const char *cmd, char *reply, size_t len)
{
	if (!strcmp(cmd, "reload")) {
		sup_reload(s, reply, len);
	} else if (!strcmp(cmd, "drain")) {
		sup_drain(s, false);
		/* Whoever reads the reply may read `available` next: make it 0. */
		status_write(s);
		snprintf(reply, len, "ok draining");
	} else if (!strcmp(cmd, "resume")) {
		if (s->stopping)
			snprintf(reply, len, "error: stopping; cannot resume");
		else {
			sup_resume(s);
			snprintf(reply, len, "ok");
		}
	} else if (!strcmp(cmd, "stop")) {
		sup_drain(s, true);
		snprintf(reply, len, "ok stopping");
	} else {
		snprintf(reply, len, "error: unknown command '%.32s'", cmd);
	}
}

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;
	char reply[1300];

	if (what & EV_TIMEOUT) {
		conn_close(c);
		return;
	}
	ssize_t n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	char *nl = strchr(c->buf, '\n');
	if (!nl) {
		if (c->len == sizeof(c->buf) - 1)
			conn_close(c);	/* no request is that long */
		return;
	}
	*nl = '\0';
	handle(c->s, c->buf, reply, sizeof(reply) - 1);
	size_t rl = strlen(reply);
	reply[rl++] = '\n';
	/* A reply this small fits a fresh socket's buffer; a reader that left gets nothing. */
	(void)send(fd, reply, rl, MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(c);
}

static void on_ctl_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sup *s = arg;
	struct timeval tv = { 2, 0 };
	(void)what;

	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ctl_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_conn, c);
	if (!c->ev || event_add(c->ev, &tv) < 0) {
		if (c->ev)
			event_free(c->ev);
		close(fd);
		free(c);
	}
}

int control_open(struct sup *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(s->ctl_path, sizeof(s->ctl_path), "%s/control.sock", s->conf->run_dir);
	if (strlen(s->ctl_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a Unix socket", s->ctl_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, s->ctl_path, strlen(s->ctl_path) + 1);
	unlink(s->ctl_path);	/* stale from a crash; the pidfile lock proved we are alone */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "control socket %s: %s", s->ctl_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	s->ctl_fd = fd;
	return 0;
}

int control_start(struct sup *s)
{
	s->ctl_ev = event_new(s->base, s->ctl_fd, EV_READ | EV_PERSIST, on_ctl_accept, s);
	if (!s->ctl_ev || event_add(s->ctl_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void control_close(struct sup *s)
{
	if (s->ctl_ev)
		event_free(s->ctl_ev);
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	unlink(s->ctl_path);
}
