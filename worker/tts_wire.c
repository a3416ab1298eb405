/*
 * tts_wire.c - context ids and messages both TTS wires share. See
 * tts_wire.h.
 *
 * Why strict about context ids: an id decides whose audio reaches the
 * caller; "<tag>-4294967297" must not pass for reply 1 (strtoul would wrap
 * it), so the number is read digit by digit with a bound. A message is a
 * peer's bytes: anything but an object is refused here, once for both.
 */
#include "tts_wire.h"

#include <stdio.h>
#include <string.h>

void tts_ctx_id(const char *tag, uint32_t n, char *out, size_t len)
{
	snprintf(out, len, "%s-%u", tag, n);
}

uint32_t tts_ctx_of(const char *tag, const char *id)
{
	size_t n = strlen(tag);
	uint64_t v = 0;

	if (!id || strncmp(id, tag, n) || id[n] != '-' || !id[n + 1])
		return 0;
	for (const char *p = id + n + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	return (uint32_t)v;
}

json_t *tts_msg_object(const char *data, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);

	if (json_is_object(j))
		return j;
	json_decref(j);
	return NULL;
}
