/*
 * http_status.c - the permanent-status and Retry-After rules. See
 * http_status.h.
 *
 * Why one place: the STT, TTS and LLM clients each had their own list and
 * they disagreed (a 402 ended the STT but was retried by the LLM, a 404
 * ended the LLM but was retried by the TTS). A Retry-After is a peer's
 * number: parsed by hand and clamped before it becomes an int, never
 * through a float conversion that can overflow.
 */
#include "http_status.h"

#include <stddef.h>

bool http_status_permanent(long status)
{
	if (status < 400 || status > 499)
		return false;
	switch (status) {
	case 408:	/* request timeout */
	case 409:	/* conflict: may clear */
	case 425:	/* too early */
	case 429:	/* rate limited: wait and ask again */
		return false;
	default:
		return true;
	}
}

int http_retry_after_ms(const char *v)
{
	long long ms = 0;
	int digits = 0, frac = 0;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v >= '0' && *v <= '9'; v++, digits++)
		if (ms <= HTTP_RETRY_AFTER_MAX_MS)	/* stop growing once clamped */
			ms = ms * 10 + (*v - '0') * 1000;
	if (*v == '.') {
		int scale = 100;
		for (v++; *v >= '0' && *v <= '9'; v++, frac++) {
			ms += (*v - '0') * scale;
			scale /= 10;
		}
	}
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v || (!digits && !frac))
		return -1;
	return ms > HTTP_RETRY_AFTER_MAX_MS ? HTTP_RETRY_AFTER_MAX_MS : (int)ms;
}
