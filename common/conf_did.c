/*
 * conf_did.c - [did:NUMBER] sections: per-number engine, TTS, recording
 * and hand-off, and the lookups that fall back to the global keys.
 *
 * Owns: c->dids (one entry per number, made on its first key) and the
 * answers "which engine / TTS / recording / hand-off number for this DID".
 * An unset DID key never shadows the global one: "" (or record -1) means
 * "the [call], [tts] or [twilio] value", looked up at call time, so a
 * reload that changes only the global key moves every DID that did not
 * say otherwise.
 * Fails with ps->err naming the DID and the key.
 */
#include "conf_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The [did:NUMBER] entry, made on its first key. NULL without memory. */
static struct conf_did *did_entry(struct conf *c, const char *did)
{
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].did, did))
			return &c->dids[i];
	struct conf_did *d = realloc(c->dids, (c->ndids + 1) * sizeof(*d));
	if (!d)
		return NULL;
	c->dids = d;
	d += c->ndids++;
	memset(d, 0, sizeof(*d));
	snprintf(d->did, CONF_DID_LEN, "%s", did);
	d->record = -1;
	return d;
}

/* Whether v suits the DID key name; else ps->err says why. */
static bool did_value_ok(struct conf_parse *ps, const char *did, const char *name,
			 const char *v)
{
	if (!strcmp(name, "engine") && (!ps->engine_known(v) || strlen(v) >= CONF_ENGINE_LEN))
		snprintf(ps->err, sizeof(ps->err), "[did:%s] engine: '%s' is not a known engine",
			 did, v);
	else if (!strcmp(name, "handoff_number") && (!conf_valid_did(v) || v[0] != '+'))
		snprintf(ps->err, sizeof(ps->err), "[did:%s] handoff_number: '%s' is not a "
			 "+E.164 number", did, v);
	else if (!strcmp(name, "tts") && !conf_tts_known(v))
		snprintf(ps->err, sizeof(ps->err), "[did:%s] tts: '%s' is not cartesia or "
			 "elevenlabs", did, v);
	else if (!strcmp(name, "record") && conf_parse_bool(v) < 0)
		snprintf(ps->err, sizeof(ps->err), "[did:%s] record: '%s' is not yes or no", did, v);
	else
		return true;
	return false;
}

int conf_did_key(struct conf_parse *ps, const char *did, const char *name, const char *v)
{
	struct conf_did *d;

	if (!conf_valid_did(did)) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s]: a DID is digits and '+' only", did);
		return -EINVAL;
	}
	if (strcmp(name, "engine") != 0 && strcmp(name, "tts") != 0 &&
	    strcmp(name, "record") != 0 && strcmp(name, "handoff_number") != 0) {
		snprintf(ps->err, sizeof(ps->err), "[did:%s] %s: unknown key", did, name);
		return -EINVAL;
	}
	if (!did_value_ok(ps, did, name, v))
		return -EINVAL;
	if (!(d = did_entry(ps->c, did))) {
		snprintf(ps->err, sizeof(ps->err), "out of memory");
		return -ENOMEM;
	}
	if (!strcmp(name, "engine"))
		snprintf(d->engine, CONF_ENGINE_LEN, "%s", v);
	else if (!strcmp(name, "tts"))
		snprintf(d->tts, CONF_TTS_LEN, "%s", v);
	else if (!strcmp(name, "handoff_number"))
		snprintf(d->handoff_number, CONF_DID_LEN, "%s", v);
	else
		d->record = conf_parse_bool(v);
	return 0;
}

bool conf_engine_used(const struct conf *c, const char *engine)
{
	if (!strcmp(c->engine, engine) || !strcmp(c->overflow_engine, engine))
		return true;
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].engine, engine))
			return true;
	return false;
}

bool conf_tts_used(const struct conf *c, const char *provider)
{
	if (!strcmp(c->tts_provider, provider))
		return true;
	for (size_t i = 0; i < c->ndids; i++)
		if (!strcmp(c->dids[i].tts, provider))
			return true;
	return false;
}

static const struct conf_did *did_find(const struct conf *c, const char *did)
{
	if (did && *did)
		for (size_t i = 0; i < c->ndids; i++)
			if (!strcmp(c->dids[i].did, did))
				return &c->dids[i];
	return NULL;
}

const char *conf_engine_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->engine[0] ? d->engine : c->engine;
}

const char *conf_tts_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->tts[0] ? d->tts : c->tts_provider;
}

bool conf_record_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->record >= 0 ? d->record : c->record;
}

const char *conf_handoff_number_for(const struct conf *c, const char *did)
{
	const struct conf_did *d = did_find(c, did);

	return d && d->handoff_number[0] ? d->handoff_number : c->tw_handoff_number;
}
