/*
 * conf_value.c - a value's text into its field, by the key's type.
 *
 * Owns: what each key type accepts (whole numbers and numbers in the
 * key's range, yes/no, log levels, engine names, listen addresses, paths,
 * strings that fit), and the small syntaxes other parts share: a listen
 * address, a DID, a yes/no.
 * Relative paths are taken from the configuration file's directory, so
 * vagentd and vagentctl agree whatever directory each was started in, and
 * a daemon that chdir'd to / still finds its log file when it reopens it.
 * Fails with ps->err saying what is wrong with the value; the caller adds
 * the section and key, inih the line.
 */
#include "conf_impl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int conf_split_listen(const char *v, char *host, size_t hostlen, int *port_out)
{
	const char *colon;
	char *end;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - v - 1) >= hostlen)
			return -EINVAL;
		snprintf(host, hostlen, "%.*s", (int)(rb - v - 1), v + 1);
		colon = rb + 1;
	} else if ((colon = strrchr(v, ':'))) {
		if ((size_t)(colon - v) >= hostlen)
			return -EINVAL;
		snprintf(host, hostlen, "%.*s", (int)(colon - v), v);
	} else {
		host[0] = '\0';
		colon = v - 1;
	}
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	*port_out = (int)port;
	return 0;
}

bool conf_valid_did(const char *s)
{
	if (!*s || strlen(s) >= CONF_DID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '+'))
			return false;
	return true;
}

int conf_parse_bool(const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		return 1;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		return 0;
	return -1;
}

bool conf_tts_known(const char *name)
{
	return !strcmp(name, "cartesia") || !strcmp(name, "elevenlabs");
}

static int set_path(struct conf_parse *ps, const struct conf_key *k, char *field, const char *v)
{
	char base[PATH_MAX];
	const char *slash = strrchr(ps->c->path, '/');
	int n;

	memset(field, 0, k->size);
	if (!*v || v[0] == '/') {
		n = snprintf(field, k->size, "%s", v);
	} else {
		if (ps->c->path[0] == '/')
			snprintf(base, sizeof(base), "%.*s", (int)(slash - ps->c->path), ps->c->path);
		else if (!getcwd(base, sizeof(base)))
			base[0] = '\0';
		else if (slash)
			snprintf(base + strlen(base), sizeof(base) - strlen(base), "/%.*s",
				 (int)(slash - ps->c->path), ps->c->path);
		n = snprintf(field, k->size, "%s/%s", base, v);
	}
	if (n < 0 || (size_t)n >= k->size) {
		snprintf(ps->err, sizeof(ps->err), "path too long");
		return -EINVAL;
	}
	return 0;
}

/* K_INT and K_DOUBLE: a number within the key's range. */
static int set_number(struct conf_parse *ps, const struct conf_key *k, char *field,
		      const char *v)
{
	char *end;

	if (k->type == K_INT) {
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < k->min || n > k->max) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not a whole number from %d to %d",
				 v, k->min, k->max);
			return -EINVAL;
		}
		*(int *)field = (int)n;
		return 0;
	}
	double d = strtod(v, &end);
	/* NaN would pass both comparisons; inf is no setting either. */
	if (!*v || *end || !isfinite(d) || d < k->min || d > k->max) {
		snprintf(ps->err, sizeof(ps->err), "'%s' is not a number from %d to %d",
			 v, k->min, k->max);
		return -EINVAL;
	}
	*(double *)field = d;
	return 0;
}

/* K_BOOL and K_LEVEL: one of a few words. */
static int set_word(struct conf_parse *ps, const struct conf_key *k, char *field,
		    const char *v)
{
	bool is_bool = k->type == K_BOOL;
	int n = is_bool ? conf_parse_bool(v) : log_level_parse(v);

	if (n < 0) {
		snprintf(ps->err, sizeof(ps->err), "'%s' is not %s", v,
			 is_bool ? "yes or no" : "error, warn, info or debug");
		return -EINVAL;
	}
	if (is_bool)
		*(bool *)field = n;
	else
		*(int *)field = n;
	return 0;
}

/* The types kept as text: checked here, then copied whole. */
static int check_text(struct conf_parse *ps, const struct conf_key *k, const char *v)
{
	switch (k->type) {
	case K_ENGINE_OPT:
		if (!*v)
			return 0;
		/* fall through */
	case K_ENGINE:
		if (ps->engine_known && !ps->engine_known(v)) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not a known engine", v);
			return -EINVAL;
		}
		return 0;
	case K_LISTEN:
		if (conf_split_listen(v, ps->c->listen_host, sizeof(ps->c->listen_host),
				      &ps->c->listen_port) < 0) {
			snprintf(ps->err, sizeof(ps->err), "'%s' is not host:port", v);
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

int conf_set_key(struct conf_parse *ps, const struct conf_key *k, const char *v)
{
	char *field = (char *)ps->c + k->off;

	switch (k->type) {
	case K_INT:
	case K_DOUBLE:
		return set_number(ps, k, field, v);
	case K_BOOL:
	case K_LEVEL:
		return set_word(ps, k, field, v);
	case K_PATH:
		return set_path(ps, k, field, v);
	case K_STR:
	case K_ENGINE:
	case K_ENGINE_OPT:
	case K_LISTEN:
		break;
	}
	if (check_text(ps, k, v) < 0)
		return -EINVAL;
	if (strlen(v) >= k->size) {
		snprintf(ps->err, sizeof(ps->err), "value longer than %zu characters", k->size - 1);
		return -EINVAL;
	}
	/* Zero the whole buffer: reload compares fields byte for byte. */
	memset(field, 0, k->size);
	memcpy(field, v, strlen(v) + 1);
	return 0;
}
