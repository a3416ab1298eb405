/*
 * http_status.h - what a provider's HTTP answer means for a retry.
 *
 * Owns: the one rule, for every provider (STT and TTS websocket upgrades,
 * LLM requests), of which HTTP statuses are permanent (asking again cannot
 * help: bad request, bad key, no credit, no such model) and how long a
 * Retry-After header asks us to wait. Pure functions: no I/O, no state.
 */
#ifndef VG_HTTP_STATUS_H
#define VG_HTTP_STATUS_H

#include <stdbool.h>

/* Longest wait a Retry-After may ask for; a larger one is clamped to it. */
#define HTTP_RETRY_AFTER_MAX_MS (3600 * 1000)

/*
 * true for a 4xx that the same request will meet again (400, 401, 402,
 * 403, 404, 413, 422, ...). Not 408 (timeout), 409 (conflict), 425 (too
 * early) or 429 (rate limit): those pass. 5xx, 0 (no answer, a transport
 * failure) and anything else: false, worth another try.
 */
bool http_status_permanent(long status);

/*
 * Retry-After as milliseconds: delta-seconds ("2", "0.5" as some providers
 * send), clamped to HTTP_RETRY_AFTER_MAX_MS. -1 for NULL, empty, negative
 * or anything else (an HTTP-date included: the caller's own backoff then).
 */
int http_retry_after_ms(const char *value);

#endif
