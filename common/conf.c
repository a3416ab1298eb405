/*
 * conf.c - loading vagent.conf: defaults, then the file, then the checks.
 *
 * Owns: a struct conf's life (conf_load builds it whole or not at all,
 * conf_free ends it) and the inih handler that sends each key to its
 * part: plain keys to the table (conf_keys.c, conf_value.c), [did:] and
 * [tool:] sections to conf_did.c and conf_tool.c; the whole-file checks
 * follow in conf_validate.c. The parts are listed in conf_impl.h.
 * A failed load leaves nothing behind and touches no running conf, so a
 * reload with a typo keeps the old configuration (nginx's ngx_init_cycle).
 * Fails with one line: the file, the line where inih stopped, the section
 * and key, and what is wrong.
 */
#include "conf_impl.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* inih handler: nonzero to go on. The first error is kept; inih gives its line. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *ps = user;
	const struct conf_key *k;

	if (ps->err[0])
		return 0;
	if (!strncmp(section, "did:", 4))
		return conf_did_key(ps, section + 4, name, value) == 0;
	if (!strncmp(section, "tool:", 5))
		return conf_tool_key(ps, section + 5, name, value) == 0;
	if (!(k = conf_key_find(section, name))) {
		snprintf(ps->err, sizeof(ps->err), "[%s] %s: unknown key", section, name);
		return 0;
	}
	if (conf_set_key(ps, k, value) < 0) {
		char why[sizeof(ps->err)];
		snprintf(why, sizeof(why), "%s", ps->err);
		snprintf(ps->err, sizeof(ps->err), "[%.64s] %.64s: %.300s", section, name, why);
		return 0;
	}
	return 1;
}

/* A conf of defaults for path, with its secrets' pages. NULL without memory. */
static struct conf *conf_new(const char *path)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (!(c->secrets = conf_secrets_new())) {
		free(c);
		return NULL;
	}
	conf_defaults(c);
	return c;
}

static int load(const char *path, conf_engine_known_fn engine_known, bool load_files,
		struct conf **out, char *err, size_t errlen)
{
	struct conf_parse ps = { .engine_known = engine_known };
	struct conf *c = conf_new(path);

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	ps.c = c;
	int line = ini_parse(path, on_key, &ps);
	if (line == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		conf_free(c);
		return -ENOENT;
	}
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 ps.err[0] ? ps.err : "syntax error");
		conf_free(c);
		return -EINVAL;
	}
	int rc = load_files ? conf_validate(c, err, errlen) : conf_check(c, err, errlen);
	if (rc == 0)	/* vagentctl provision needs it; no file to load */
		rc = conf_resolve_booking_tool(c, err, errlen);
	if (rc < 0) {
		conf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int conf_load(const char *path, conf_engine_known_fn engine_known,
	      struct conf **out, char *err, size_t errlen)
{
	return load(path, engine_known, true, out, err, errlen);
}

int conf_load_settings(const char *path, conf_engine_known_fn engine_known,
		       struct conf **out, char *err, size_t errlen)
{
	return load(path, engine_known, false, out, err, errlen);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	wav_free(&c->playback);
	conf_secrets_free(c->secrets);
	free(c->prompt);
	free(c->tools);
	free(c->dids);
	free(c);
}

const char *conf_handoff_dir(const struct conf *c)
{
	return c->handoff_dir[0] ? c->handoff_dir : c->context_dir;
}
