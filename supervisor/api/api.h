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
 * update go to one MariaDB connection owned by a thread of their own
 * (api_db.c), each with a bound on how long its client waits: while
 * MariaDB is down or hangs, the api answers from memory what it can and
 * says 503 for the rest, and nothing else waits.
 *
 * Never: crash or hang on a client's bytes; log or return an API key.
 *
 * Modules: api_main.c (start-up, loop, graceful stop), api_http.c (routing,
 * auth, JSON answers, statistics), api_req.c (request bodies), api_didctx.c
 * (did_context), api_didmap.c (the DID map and its cache), api_booking.c
 * (create_booking), api_board.c (the dispatch board's endpoints), api_db.c
 * (the MariaDB thread), api_session.c (the board's login sessions),
 * api_static.c (the board's page, script and style, built into the binary
 * from www/ by api_www.S), api_sse.c (the board's live updates),
 * api_twilio.c (Twilio's voice webhook: signed, not keyed), api_announce.c
 * (the one-way messages Twilio fetches).
 */
#ifndef VG_API_H
#define VG_API_H

#include <jansson.h>
#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../ipc/shm.h"
#include "../writer/bw_stats.h"
#include "api_stats.h"

struct conf;
struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evbuffer;

struct did_entry {
	char did[51];
	char name[1024];	/* clean_name: what the agent says */
	char trade[16];
	int fee;
	char area[404];
	bool has_area;
};

/* A board login: a random token the browser holds in an HttpOnly cookie. */
#define API_SESSIONS 64
#define API_TOKEN_HEX 64
struct api_session {
	char token[API_TOKEN_HEX + 1];	/* "" for a free slot */
	int64_t expires_ns;
};

struct api;
struct api_sse;
struct api_pending;
struct api_dbq;
struct api_job;

/* The database thread's connection; never touched by the loop. */
struct api_dbconn {
	MYSQL *db;
	MYSQL_STMT *st_repeat;		/* prepared on first use, per connection */
};

/* On the database thread: 0 or -errno (which closes the connection). */
typedef int (*api_job_run_fn)(struct api_dbconn *c, struct api_job *j);
/*
 * In the loop, exactly once: rc is run's result, -ETIMEDOUT (the wait ran
 * out; the thread may still be running it, so read no result) or -EAGAIN
 * (no connection now).
 */
typedef void (*api_job_done_fn)(struct api *a, struct api_job *j, int rc);

/* The head of a handler's job; its own fields follow (api_job_new(size)). */
struct api_job {
	struct api_job *next;
	api_job_run_fn run;
	api_job_done_fn done;
	void (*release)(struct api_job *j);	/* frees what run made; may be NULL */
	struct api *a;
	struct event *timer;
	int rc;
	int state;
	bool answered;
};

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
	const struct bw_stats *writer;	/* for /healthz, read-only */

	struct api_dbq *dbq;		/* the database thread */
	int db_jobs;			/* submitted, not answered yet */

	struct did_entry *dids;		/* sorted by did */
	size_t ndids;
	struct event *refresh_ev;
	bool map_loading;
	int listen_fd;
	struct event *listen_ev;	/* start-up: listen even if the map is late */

	struct api_pending *pending;	/* create_booking answers waiting for acks */
	struct event *ack_ev;
	struct api_session sessions[API_SESSIONS];
	struct api_sse *sse;		/* board streams; NULL until the first */
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
/* Status, the security headers every answer carries, Connection: close when stopping. */
void api_send(struct api *a, struct evhttp_request *req, int code, struct evbuffer *out);
void api_count(struct api *a, enum api_endpoint ep, int code, int64_t t0);
/* A whole answer of type; counted. */
void api_send_bytes(struct api *a, struct evhttp_request *req, int code, const char *type,
		    const void *data, size_t len, enum api_endpoint ep, int64_t t0);
void api_security_headers(struct evhttp_request *req);
bool api_key_ok(const struct api *a, const char *given);
/*
 * The request's Origin names this host (scheme://Host): it came from our
 * own page. Without an Origin: required decides.
 */
bool api_same_origin(struct evhttp_request *req, bool required);

/* api_main.c: take connections (once the DID map is there, at start-up). */
void api_listen(struct api *a);

/* api_db.c: the database thread. */
int api_db_start(struct api *a);
void api_db_stop(struct api *a);
struct api_job *api_job_new(size_t size, api_job_run_fn run, api_job_done_fn done,
			    void (*release)(struct api_job *));
void api_job_free(struct api_job *j);	/* only a job never submitted */
/*
 * Queues j for the thread; done runs later (never from inside this call),
 * at the latest wait_ms from now. 0, or -ENOBUFS / -EAGAIN / -ENOMEM and
 * nothing queued: the caller answers now and frees j.
 */
int api_db_submit(struct api *a, struct api_job *j, int wait_ms);
/* For run: logs what failed with MariaDB's reason; returns -EIO. */
int api_db_fail(struct api_dbconn *c, MYSQL_STMT *st, const char *what);

/* api_didmap.c: the DID map. start: the cached one, then MariaDB's; listens. */
int api_did_start(struct api *a);
void api_did_refresh(struct api *a);
const struct did_entry *api_did_find(const struct api *a, const char *did);

/* api_didctx.c */
void api_did_context(struct api *a, struct evhttp_request *req, int64_t t0);

/* api_booking.c */
void api_create_booking(struct api *a, struct evhttp_request *req, int64_t t0);
void api_pending_tick(struct api *a);

/* api_board.c */
void api_bookings(struct api *a, struct evhttp_request *req, int64_t t0);
void api_booking_one(struct api *a, struct evhttp_request *req, const char *id, int64_t t0);
void api_dispatch(struct api *a, struct evhttp_request *req, const char *id, int64_t t0);

/* api_recording.c: the WAV of a booking's call. */
void api_recording(struct api *a, struct evhttp_request *req, const char *id, int64_t t0);
/*
 * For the live updates: the bookings with an id over after_id, oldest
 * first, at most limit; after_id < 0: one row, {"id": the highest id}.
 * done gets the rows (NULL on failure) and owns them.
 */
typedef void (*api_newer_fn)(struct api *a, json_t *rows);
int api_bookings_newer(struct api *a, long long after_id, int limit, api_newer_fn done);

/* api_session.c: the board's logins. */
bool api_session_ok(struct api *a, struct evhttp_request *req);
void api_login(struct api *a, struct evhttp_request *req, int64_t t0);
void api_logout(struct api *a, struct evhttp_request *req, int64_t t0);

/* api_static.c: the board's files. false: path is none of them. */
bool api_static(struct api *a, struct evhttp_request *req, const char *path, int64_t t0);

/* api_twilio.c: Twilio's webhooks, authenticated by its signature, not the key. */
void api_twilio_voice(struct api *a, struct evhttp_request *req, int64_t t0);
void api_twilio_status(struct api *a, struct evhttp_request *req, int64_t t0);
void api_twilio_handoff(struct api *a, struct evhttp_request *req, int64_t t0);

/* api_announce.c: vagentctl announce's WAVs, for Twilio's <Play>, without key. */
bool api_announce_name_ok(const char *name);	/* [0-9a-f]{32}.wav */
void api_announce(struct api *a, struct evhttp_request *req, const char *name, int64_t t0);

/* api_sse.c: live updates to the boards that listen. */
void api_events(struct api *a, struct evhttp_request *req, int64_t t0);
void api_sse_send(struct api *a, const char *event, json_t *data);	/* steals data */
void api_sse_stop(struct api *a);	/* ends every stream; frees what it holds */

#endif
