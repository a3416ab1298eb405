/*
 * api_stats.h - the api process's statistics section in shared memory.
 *
 * Owns: the api's endpoints (their order and their names, which are the
 * "endpoint" label of vagent_api_requests_total and
 * vagent_api_request_seconds), the answer classes, and the layout of the
 * "api" section. A new endpoint is one line of API_ENDPOINTS: the enum,
 * the names and the section's size follow, and readers built before it
 * refuse the segment (ipc/shm.h checks the size) instead of misreading it.
 *
 * Written by the api process only, through a mapping of these pages alone;
 * the supervisor renders it and vagentctl reads its pid. Never written by
 * a worker, which cannot reach it (ipc/shm.h, Trust).
 */
#ifndef VG_API_STATS_H
#define VG_API_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "../../ipc/hist.h"
#include "../../ipc/shm.h"

/* X(enum suffix, name): the order is the section's layout. */
#define API_ENDPOINTS(X)			\
	X(DID_CONTEXT, "did_context")		\
	X(CREATE_BOOKING, "create_booking")	\
	X(BOOKINGS, "bookings")			\
	X(DISPATCH, "dispatch")			\
	X(BOOKING, "booking")			\
	X(EVENTS, "events")			\
	X(BOARD, "board")			\
	X(HEALTH, "healthz")			\
	X(METRICS, "metrics")			\
	X(TWILIO, "twilio")			\
	X(ANNOUNCE, "announce")			\
	X(OTHER, "other")

#define API_EP_ENUM(id, name) API_EP_##id,
enum api_endpoint {
	API_ENDPOINTS(API_EP_ENUM)
	API_EP_MAX
};
#undef API_EP_ENUM

static inline const char *api_endpoint_name(enum api_endpoint ep)
{
#define API_EP_NAME(id, name) name,
	static const char *const names[API_EP_MAX] = { API_ENDPOINTS(API_EP_NAME) };
#undef API_EP_NAME
	return (unsigned)ep < API_EP_MAX ? names[ep] : "?";
}

/* Classes of answers, the "code" label: 2xx (and 1xx/3xx), 4xx, 5xx. */
enum api_class { API_CLASS_2XX = 0, API_CLASS_4XX, API_CLASS_5XX, API_CLASS_MAX };

static inline enum api_class api_class_of(int code)
{
	return code >= 500 ? API_CLASS_5XX : code >= 400 ? API_CLASS_4XX : API_CLASS_2XX;
}

static inline const char *api_class_name(enum api_class c)
{
	static const char *const names[API_CLASS_MAX] = { "2xx", "4xx", "5xx" };
	return (unsigned)c < API_CLASS_MAX ? names[c] : "?";
}

struct api_stats {
	_Atomic int32_t pid;		/* the api running now; 0 when none */
	_Atomic uint64_t requests[API_EP_MAX][API_CLASS_MAX];
	struct hist latency[API_EP_MAX];
};

#define API_STATS_VERSION 2

static const struct shm_section_spec api_stats_section = {
	"api", API_STATS_VERSION, SHM_SCOPE_SEGMENT, sizeof(struct api_stats)
};

#endif
