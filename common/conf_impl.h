/*
 * conf_impl.h - what the conf*.c files share; callers include conf.h only.
 *
 * Owns: the key table's row type, one load's parse state, and the helpers
 * more than one part of the loader needs (a listen address, a DID, a bool
 * as written, a TTS provider's name, a secret).
 * The parts: conf.c loads a file and dispatches its sections; conf_keys.c
 * is the table of plain keys with their defaults; conf_value.c turns a
 * value's text into its field; conf_did.c and conf_tool.c are the [did:]
 * and [tool:] sections; conf_validate.c holds the checks that need the
 * whole file; conf_secret.c keeps keys out of core dumps.
 */
#ifndef VG_CONF_IMPL_H
#define VG_CONF_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* K_ENGINE_OPT: an engine's name or empty (none). */
enum conf_ktype { K_INT, K_STR, K_PATH, K_BOOL, K_LEVEL, K_ENGINE, K_ENGINE_OPT, K_LISTEN, K_DOUBLE };

struct conf_key {
	const char *section, *name;
	enum conf_ktype type;
	const char *def;	/* as written in vagent.conf; NULL: zero, or empty */
	size_t off, size;	/* size: buffer size for strings */
	int min, max;
	bool restart_only;
};

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

/* One load: the conf being filled and its first error (inih adds the line). */
struct conf_parse {
	struct conf *c;
	conf_engine_known_fn engine_known;	/* NULL: values are our defaults */
	char err[512];
};

/* conf_keys.c: the row for [section] name, or NULL. */
const struct conf_key *conf_key_find(const char *section, const char *name);
/* Every key's default into c, which is zeroed; panics if one is refused. */
void conf_defaults(struct conf *c);

/* conf_value.c: v into k's field of ps->c. 0, or -EINVAL with ps->err. */
int conf_set_key(struct conf_parse *ps, const struct conf_key *k, const char *v);
/* "host:port", "[v6]:port" or ":port"/"port" (all addresses). 0 or -EINVAL. */
int conf_split_listen(const char *v, char *host, size_t hostlen, int *port_out);
/* Digits and '+', shorter than CONF_DID_LEN. */
bool conf_valid_did(const char *s);
/* 1 for yes/true/1/on, 0 for no/false/0/off, -1 for anything else. */
int conf_parse_bool(const char *v);
bool conf_tts_known(const char *name);

/* conf_did.c: one key of a [did:NUMBER] section. */
int conf_did_key(struct conf_parse *ps, const char *did, const char *name, const char *v);
/* Whether the [call] default, the overflow or some DID names engine. */
bool conf_engine_used(const struct conf *c, const char *engine);
/* Whether [tts] provider or some DID's tts names provider. */
bool conf_tts_used(const struct conf *c, const char *provider);

/* conf_tool.c: one key of a [tool:NAME] section; the tools' whole-file check. */
int conf_tool_key(struct conf_parse *ps, const char *name, const char *key, const char *v);
int conf_tools_check(const struct conf *c, char *err, size_t errlen);

/* conf_validate.c: the checks that need the whole file, and the files it names. */
int conf_validate(struct conf *c, char *err, size_t errlen);
int conf_resolve_booking_tool(struct conf *c, char *err, size_t errlen);

/* conf_secret.c: pages for struct conf_secrets, kept out of core dumps. */
struct conf_secrets *conf_secrets_new(void);
void conf_secrets_free(struct conf_secrets *s);

#endif
