/*
 * api.h - the api process: the HTTP backend both agents call.
 *
 * Serves what the seed's PHP webhooks served, at their paths and with their
 * JSON (did_context, create_booking), plus the dispatch team's board, a
 * health check and the metrics. One process, one libevent loop (evhttp),
 * forked by vagentd with a listening socket vagentd holds, so a reload can
 * start a new api beside the old one without refusing a connection.
 *
 * Bookings never go to MariaDB from here: they go into the api's record
 * queue like a worker's, and the answer waits for the booking-writer's
 * acknowledgement (journaled: the booking is safe; committed: it has an
 * id). Reads (the DID map, repeat callers, the board) and the dispatch
 * update use one MariaDB connection with short timeouts; while MariaDB is
 * down the api answers from memory what it can and says 503 for the rest.
 *
 * Never: crash or hang on a client's bytes; log or return an API key.
 */
#ifndef VG_API_H
#define VG_API_H

#include <jansson.h>
#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ipc/shm.h"

struct conf;
struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

struct did_entry {
	char did[51];
	char name[1024];	/* clean_name: what the agent says */
	char trade[16];
	int fee;
	char area[404];
	bool has_area;
};

struct api_pending;

struct api {
	const struct conf *conf;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	int sig_fd;
	struct event *sig_ev;

	struct shm_map seg;		/* the whole segment, read-only */
	const struct shm_header *hdr;
	struct shm_map region, bell_map, stats_map;
	struct recq *q;			/* this process's record queue */
	struct bell *bell;
	struct api_stats *stats;

	MYSQL *db;
	MYSQL_STMT *st_repeat;		/* prepared on first use, per connection */
	int64_t db_retry_ns;		/* no connection attempt before this */
	bool db_logged_down;

	struct did_entry *dids;		/* sorted by did */
	size_t ndids;
	struct event *refresh_ev;

	struct api_pending *pending;	/* create_booking answers waiting for acks */
	struct event *ack_ev;
	bool stopping;
	int64_t stop_deadline_ns;
};

/*
 * api_main.c. region: which of the api's SHM_API_REGIONS record queues this
 * process produces into; the supervisor gives a reload's new api the one
 * the old api is not using, and reuses a queue only after reaping the api
 * that had it, so that each queue has one producer at any time.
 */
void api_main(const struct conf *c, int listen_fd, int shm_fd, void *segment, size_t size,
	      int region) __attribute__((noreturn));

/* api_http.c: replies, errors, checks shared by the handlers. */
void api_route(struct evhttp_request *req, void *arg);
void api_reply(struct api *a, struct evhttp_request *req, int code, json_t *body,
	       enum api_endpoint ep, int64_t t0);	/* steals body */
void api_error(struct api *a, struct evhttp_request *req, int code, enum api_endpoint ep,
	       int64_t t0, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The request's JSON object body, or an error already sent (NULL). */
json_t *api_body(struct api *a, struct evhttp_request *req, enum api_endpoint ep, int64_t t0);
const char *api_peer(struct evhttp_request *req, char *buf, size_t len);

/* MariaDB for reads and the dispatch update; NULL while it is down. */
MYSQL *api_db(struct api *a);
void api_db_failed(struct api *a, const char *what);

/* api_didctx.c */
void api_did_context(struct api *a, struct evhttp_request *req, int64_t t0);
void api_did_refresh(struct api *a);

/* api_booking.c */
void api_create_booking(struct api *a, struct evhttp_request *req, int64_t t0);
void api_pending_tick(struct api *a);

/* api_board.c */
void api_bookings(struct api *a, struct evhttp_request *req, int64_t t0);
void api_dispatch(struct api *a, struct evhttp_request *req, const char *id, int64_t t0);

#endif
