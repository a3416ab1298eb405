/*
 * emu_twilio_dial.c - the TEST DOUBLE of Twilio carrying out a call its
 * Calls REST accepted: the callee answers at once and the call's TwiML
 * runs, as Twilio runs it once the far end picks up.
 *
 * A <Connect><Stream url> is what vagentctl call sends: Twilio opens that
 * websocket with the stream's <Parameter>s as the start message's
 * customParameters. Here the dialler is `vagent-emu twilio` itself
 * (emu_twilio.c, the same caller as for inbound calls), a child process
 * of this one playing the callee from --twilio-caller-wav, its upgrade
 * signed with --twilio-token over the stream URL as Twilio signs it. The
 * URL is the public wss:// one; --twilio-connect-to HOST:PORT is where
 * the test's "TLS proxy" would pass it on (plain websocket). The child's
 * JSON report is kept for GET /emu/calls.
 *
 * Owns: the children it starts (reaped from the loop, never blocking it)
 * and each call's entry.
 * Never: runs any other TwiML (a <Say>, a <ConversationRelay>): such a
 * call is listed as "unsupported" and nobody is dialled.
 * Fails: a child that cannot start is the call's "failed" state.
 */
#include "emu_twilio_dial.h"
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../common/log.h"

#define DIALS_MAX 64
#define REPORT_MAX (1u << 20)
#define ARGS_MAX (24 + 2 * 40)	/* options, and a --param per <Parameter> */
#define URL_MAX 1024
#define VALUE_MAX 2048

extern char **environ;

struct dial {
	struct emu_tw_dials *owner;
	json_t *entry;			/* what GET /emu/calls shows */
	pid_t pid;
	int fd;				/* the child's stdout */
	struct event *ev, *reap;
	char *out;
	size_t len;
};

struct emu_tw_dials {
	const struct emu *e;
	struct event_base *base;
	struct dial *dials[DIALS_MAX];
	size_t n;
};

/* ---- the TwiML ---- */

/* XML's five entities and numeric ASCII references; anything else as written. */
static int unescape(const char *s, size_t n, char *out, size_t len)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&apos;", '\'' },
	};
	size_t o = 0;

	for (size_t i = 0; i < n; o++) {
		if (o + 1 >= len)
			return -EINVAL;
		out[o] = s[i];
		size_t step = 1;
		for (size_t k = 0; s[i] == '&' && k < sizeof(ents) / sizeof(ents[0]); k++)
			if (n - i >= strlen(ents[k].ent) && !strncmp(s + i, ents[k].ent,
								      strlen(ents[k].ent))) {
				out[o] = ents[k].c;
				step = strlen(ents[k].ent);
			}
		if (s[i] == '&' && i + 2 < n && s[i + 1] == '#') {
			char *end;
			long c = s[i + 2] == 'x' ? strtol(s + i + 3, &end, 16) :
				 strtol(s + i + 2, &end, 10);
			if (*end == ';' && c > 0 && c < 128 && end < s + n) {
				out[o] = (char)c;
				step = (size_t)(end - (s + i)) + 1;
			}
		}
		i += step;
	}
	out[o] = '\0';
	return 0;
}

/* name="value" in the tag [tag, end), unescaped into out. 0 or -EINVAL. */
static int attr(const char *tag, const char *end, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = tag + 1; p + nl + 2 < end; p++) {
		if ((p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n') || strncmp(p, name, nl) ||
		    p[nl] != '=' || p[nl + 1] != '"')
			continue;
		const char *v = p + nl + 2, *q = memchr(v, '"', (size_t)(end - v));
		return q ? unescape(v, (size_t)(q - v), out, len) : -EINVAL;
	}
	return -EINVAL;
}

/* The element named name from p on: its start, end set past its '>'; NULL if none. */
static const char *element(const char *p, const char *name, const char **end)
{
	size_t nl = strlen(name);

	for (p = strchr(p, '<'); p; p = strchr(p + 1, '<'))
		if (!strncmp(p + 1, name, nl) && strchr(" \t\n/>", p[1 + nl])) {
			*end = strchr(p, '>');
			return *end ? p : NULL;
		}
	return NULL;
}

int emu_twiml_stream(const char *twiml, char **url, json_t *params)
{
	const char *end, *s = element(twiml, "Stream", &end), *close;
	char *u = malloc(URL_MAX), *name = malloc(VALUE_MAX), *value = malloc(VALUE_MAX);
	int rc = -EINVAL;

	*url = NULL;
	if (!u || !name || !value || !s || attr(s, end, "url", u, URL_MAX) < 0)
		goto out;
	close = end[-1] == '/' ? end : strstr(end, "</Stream>");
	if (!close)
		goto out;
	for (const char *p = element(end, "Parameter", &end); p && p < close;
	     p = element(end, "Parameter", &end)) {
		if (attr(p, end, "name", name, VALUE_MAX) < 0 ||
		    attr(p, end, "value", value, VALUE_MAX) < 0)
			goto out;
		json_object_set_new(params, name, json_string(value));
	}
	*url = u;
	u = NULL;
	rc = 0;
out:
	free(u);
	free(name);
	free(value);
	return rc;
}

/* ---- the child ---- */

static void dial_close(struct dial *d)
{
	if (d->ev)
		event_free(d->ev);
	if (d->fd >= 0)
		close(d->fd);
	d->ev = NULL;
	d->fd = -1;
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	static const struct timeval again = { 0, 50000 };
	int st = 0;
	(void)fd, (void)what;

	pid_t r = waitpid(d->pid, &st, WNOHANG);
	if (r == 0) {
		evtimer_add(d->reap, &again);	/* it has closed stdout: about to exit */
		return;
	}
	json_t *rep = d->len ? json_loadb(d->out, d->len, 0, NULL) : NULL;
	int code = r < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	json_object_set_new(d->entry, "exit", json_integer(code));
	json_object_set_new(d->entry, "report", rep ? rep : json_null());
	json_object_set_new(d->entry, "state", json_string(code == 0 && rep ? "done" : "failed"));
	log_info("twilio", json_string_value(json_object_get(d->entry, "sid")),
		 "twilio-rest emulator: the call's stream ended (exit %d)", code);
	d->pid = 0;
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	(void)what;

	if (n < 0 && errno == EINTR)
		return;
	if (n > 0 && d->len + (size_t)n <= REPORT_MAX) {
		char *p = realloc(d->out, d->len + (size_t)n);
		if (p) {
			memcpy(p + d->len, buf, (size_t)n);
			d->out = p;
			d->len += (size_t)n;
		}
		return;
	}
	if (n > 0)
		return;		/* past the bound: read on, keep none of it */
	dial_close(d);
	on_reap(-1, 0, d);
}

/* argv for `vagent-emu twilio`: the options' and the entry's strings; each
 * --param's NAME=VALUE malloc'd into owned (nowned of them), the caller frees. */
static void child_args(const struct emu *e, const struct dial *d, const char **av,
		       char **owned, size_t *nowned)
{
	json_t *p = json_object_get(d->entry, "params"), *v;
	const char *k;
	size_t n = 0;

	*nowned = 0;
	av[n++] = "vagent-emu";
	av[n++] = "twilio";
	av[n++] = "--url";
	av[n++] = json_string_value(json_object_get(d->entry, "stream_url"));
	av[n++] = "--connect-to";
	av[n++] = e->opt.twilio_connect_to;
	av[n++] = "--call-sid";
	av[n++] = json_string_value(json_object_get(d->entry, "sid"));
	av[n++] = "--hold-ms";
	av[n++] = "0";		/* the callee's WAV says how long they stay */
	if (e->opt.twilio_callee_wav) {
		av[n++] = "--wav";
		av[n++] = e->opt.twilio_callee_wav;
	}
	if (e->opt.twilio_token) {
		av[n++] = "--token";	/* Twilio signs with the account's token */
		av[n++] = e->opt.twilio_token;
	}
	if (e->opt.log_path) {
		av[n++] = "--log";
		av[n++] = e->opt.log_path;
	}
	json_object_foreach(p, k, v) {
		char *kv = NULL;
		if (n + 3 > ARGS_MAX || asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0)
			break;
		owned[(*nowned)++] = kv;
		av[n++] = "--param";
		av[n++] = kv;
	}
	av[n] = NULL;
}

static int spawn(struct emu_tw_dials *ds, struct dial *d)
{
	const char *av[ARGS_MAX + 1];
	char *owned[ARGS_MAX];
	size_t nowned;
	posix_spawn_file_actions_t fa;
	int pfd[2], rc;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	child_args(ds->e, d, av, owned, &nowned);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	rc = posix_spawn(&d->pid, "/proc/self/exe", &fa, NULL, (char *const *)av, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);		/* the child has its own copy */
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return -rc;
	}
	d->fd = pfd[0];
	d->ev = event_new(ds->base, d->fd, EV_READ | EV_PERSIST, on_output, d);
	d->reap = evtimer_new(ds->base, on_reap, d);
	if (!d->ev || !d->reap || event_add(d->ev, NULL) < 0)
		return -ENOMEM;	/* the child runs on; its report is lost */
	return 0;
}

/* ---- the calls ---- */

int emu_tw_dial(struct emu_tw_dials *ds, const char *sid, const char *to, const char *twiml)
{
	struct dial *d;
	json_t *params = json_object();
	char *url = NULL;
	int rc;

	if (ds->n == DIALS_MAX || !(d = calloc(1, sizeof(*d))) || !params) {
		json_decref(params);
		return -ENOMEM;
	}
	*d = (struct dial){ .owner = ds, .fd = -1 };
	ds->dials[ds->n++] = d;
	rc = twiml ? emu_twiml_stream(twiml, &url, params) : -EINVAL;
	d->entry = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "sid", sid, "to", to, "state",
			     rc < 0 ? "unsupported" : "dialling", "stream_url", url,
			     "params", params);
	free(url);
	if (!d->entry)
		return -ENOMEM;
	if (rc < 0) {
		log_info("twilio", sid, "twilio-rest emulator: no <Connect><Stream> in the "
			 "TwiML: nobody is dialled");
		return 0;
	}
	if ((rc = spawn(ds, d)) < 0) {
		log_warn("twilio", sid, "twilio-rest emulator: cannot start the dialler: %s",
			 strerror(-rc));
		json_object_set_new(d->entry, "state", json_string("failed"));
	}
	return 0;
}

json_t *emu_tw_dials_dump(const struct emu_tw_dials *ds)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < ds->n; i++)
		if (ds->dials[i]->entry)
			json_array_append(a, ds->dials[i]->entry);
	return a;
}

struct emu_tw_dials *emu_tw_dials_new(const struct emu *e, struct event_base *base)
{
	struct emu_tw_dials *ds = calloc(1, sizeof(*ds));

	if (ds) {
		ds->e = e;
		ds->base = base;
	}
	return ds;
}

void emu_tw_dials_free(struct emu_tw_dials *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->n; i++) {
		struct dial *d = ds->dials[i];
		dial_close(d);
		if (d->reap)
			event_free(d->reap);
		if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0)
			kill(d->pid, SIGTERM);	/* a call still up when the emulator stops */
		json_decref(d->entry);
		free(d->out);
		free(d);
	}
	free(ds);
}
