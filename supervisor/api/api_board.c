/*
 * api_board.c - the dispatch team's side: GET /api/bookings (newest first,
 * paged, filtered by dispatched, DID, company, "today's and open"), GET
 * /api/bookings/{id} (one booking with its call's transcript) and POST
 * /api/bookings/{id}/dispatch (mark assigned, with notes), as the seed's
 * workflow does by hand in SQL; and the query behind the live updates
 * (api_sse.c): the bookings newer than the last one sent.
 *
 * Both need MariaDB now (the team acts on what it sees): they run on the
 * database thread, and while MariaDB is down they answer 503 at once, and
 * while it hangs 503 after BOARD_WAIT_MS; bookings keep being taken
 * meanwhile. A dispatch answered 503 may still be applied when the server
 * wakes: sending it again is harmless (same row, same notes).
 */
#include "api.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "../../common/conf.h"
#include "../../common/booking/record.h"
#include "../../common/log.h"

#define PAGE_MAX 200
#define BOARD_WAIT_MS 3000
#define DB_503 "database unavailable; try again"

#define COLS "b.id, b.booking_ref, " \
	"DATE_FORMAT(b.created_at, '%Y-%m-%dT%H:%i:%sZ') AS created_at, b.customer_name, " \
	"b.customer_phone, b.postcode, b.address, b.problem_description, b.trade_type, " \
	"b.callout_fee, b.did_number, b.company_name, b.is_repeat, b.outcome, b.dispatched, " \
	"DATE_FORMAT(b.dispatched_at, '%Y-%m-%dT%H:%i:%sZ') AS dispatched_at, b.notes, " \
	"b.source, b.call_uuid"

/* "today's and open": since is the business day's start in UTC, else "". */
static const char SQL_LIST[] =
	"SELECT " COLS " FROM ai_agent_bookings b WHERE (? < 0 OR b.dispatched = ?) "
	"AND b.id > ? AND (? = '' OR b.did_number = ?) AND (? = '' OR b.company_name = ?) "
	"AND (? = '' OR b.dispatched = 0 OR b.created_at >= ?) "
	"ORDER BY b.created_at DESC, b.id DESC LIMIT ? OFFSET ?";

static const char SQL_ONE[] =
	"SELECT " COLS ", c.transcript, c.recording_path IS NOT NULL AS recorded "
	"FROM ai_agent_bookings b "
	"LEFT JOIN calls c ON c.uuid = b.call_uuid WHERE b.id = ?";

/* For the live updates: what is new since the last id sent, oldest first. */
static const char SQL_NEWER[] =
	"SELECT " COLS " FROM ai_agent_bookings b WHERE b.id > ? ORDER BY b.id LIMIT ?";

static const char SQL_MAX[] = "SELECT COALESCE(MAX(id), 0) AS id FROM ai_agent_bookings";

static const char SQL_DISPATCH[] =
	"UPDATE ai_agent_bookings SET dispatched = 1, dispatched_at = UTC_TIMESTAMP(), "
	"notes = ? WHERE id = ?";

static bool is_bool_column(const char *name)
{
	return !strcmp(name, "is_repeat") || !strcmp(name, "dispatched");
}

static bool is_int_type(enum enum_field_types t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
	       t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24;
}

/* One fetched row as a JSON object, typed by the column's type. */
static json_t *row_json(MYSQL_FIELD *f, unsigned n, MYSQL_BIND *b, unsigned long *len,
			my_bool *nul)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < n; i++) {
		const char *s = b[i].buffer;
		json_t *v;
		if (nul[i])
			v = json_null();
		else if (is_bool_column(f[i].name))
			v = json_boolean(strtoll(s, NULL, 10) != 0);
		else if (is_int_type(f[i].type))
			v = json_integer(strtoll(s, NULL, 10));
		else
			v = json_stringn(s, len[i]);
		json_object_set_new(o, f[i].name, v);
	}
	return o;
}

/* Every row of an executed statement, as an array of objects. */
static json_t *rows_json(MYSQL_STMT *st)
{
	my_bool yes = 1;
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	json_t *arr = NULL;

	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &yes);
	if (!meta || mysql_stmt_store_result(st)) {
		if (meta)
			mysql_free_result(meta);
		return NULL;
	}
	unsigned n = mysql_num_fields(meta);
	MYSQL_FIELD *f = mysql_fetch_fields(meta);
	MYSQL_BIND *b = calloc(n, sizeof(*b));
	unsigned long *len = calloc(n, sizeof(*len));
	my_bool *nul = calloc(n, sizeof(*nul));
	char **buf = calloc(n, sizeof(*buf));
	bool ok = b && len && nul && buf;
	for (unsigned i = 0; ok && i < n; i++) {
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer_length = f[i].max_length + 1;
		b[i].buffer = buf[i] = malloc(b[i].buffer_length);
		b[i].length = &len[i];
		b[i].is_null = &nul[i];
		ok = buf[i] != NULL;
	}
	if (ok && mysql_stmt_bind_result(st, b) == 0) {
		arr = json_array();
		while (mysql_stmt_fetch(st) == 0)
			json_array_append_new(arr, row_json(f, n, b, len, nul));
	}
	for (unsigned i = 0; buf && i < n; i++)
		free(buf[i]);
	free(buf);
	free(nul);
	free(len);
	free(b);
	mysql_free_result(meta);
	mysql_stmt_free_result(st);
	return arr;
}

/* A query parameter as a number in [lo, hi], or dflt; false if malformed. */
static bool query_int(struct evkeyvalq *q, const char *key, long long lo, long long hi,
		      long long dflt, long long *out)
{
	const char *v = evhttp_find_header(q, key);
	char *end;

	*out = dflt;
	if (!v)
		return true;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

enum list_mode { LIST_PAGE, LIST_ONE, LIST_NEWER, LIST_MAX };

struct list_job {
	struct api_job j;
	enum list_mode mode;
	struct evhttp_request *req;	/* NULL: for the live updates */
	api_newer_fn newer;
	int64_t t0;
	long long one;			/* LIST_ONE: that booking, with its call */
	long long disp, after, limit, offset;
	char did[32], company[256], since[24];
	json_t *rows;			/* run's result */
};

struct dispatch_job {
	struct api_job j;
	struct evhttp_request *req;
	int64_t t0;
	long long id;
	char *notes;		/* NULL: no notes */
	size_t notes_len;
	my_ulonglong changed;	/* run's result */
};

static void bind_ll(MYSQL_BIND *b, long long *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

static void bind_str(MYSQL_BIND *b, char *v, unsigned long *len)
{
	*len = (unsigned long)strlen(v);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = v;
	b->buffer_length = *len;
	b->length = len;
}

/* On the database thread. */
static int list_run(struct api_dbconn *c, struct api_job *job)
{
	struct list_job *l = (struct list_job *)job;
	MYSQL_STMT *st = mysql_stmt_init(c->db);
	MYSQL_BIND b[11];
	unsigned long len[3];
	static const char *const sql_of[] = { SQL_LIST, SQL_ONE, SQL_NEWER, SQL_MAX };
	const char *sql = sql_of[l->mode];

	memset(b, 0, sizeof(b));
	if (l->mode == LIST_ONE) {
		bind_ll(&b[0], &l->one);
	} else if (l->mode == LIST_NEWER) {
		bind_ll(&b[0], &l->after);
		bind_ll(&b[1], &l->limit);
	} else if (l->mode == LIST_PAGE) {
		bind_ll(&b[0], &l->disp);
		bind_ll(&b[1], &l->disp);
		bind_ll(&b[2], &l->after);
		bind_str(&b[3], l->did, &len[0]);
		b[4] = b[3];
		bind_str(&b[5], l->company, &len[1]);
		b[6] = b[5];
		bind_str(&b[7], l->since, &len[2]);
		b[8] = b[7];
		bind_ll(&b[9], &l->limit);
		bind_ll(&b[10], &l->offset);
	}
	if (st && !mysql_stmt_prepare(st, sql, strlen(sql)) &&
	    (l->mode == LIST_MAX || !mysql_stmt_bind_param(st, b)) && !mysql_stmt_execute(st))
		l->rows = rows_json(st);
	int rc = l->rows ? 0 : api_db_fail(c, st, "listing bookings");
	if (st)
		mysql_stmt_close(st);
	return rc;
}

/*
 * The transcript column holds JSON text: give it to the client as JSON.
 * A recorded call's WAV is linked by the booking (api_recording.c), never
 * by its path on the server.
 */
static json_t *with_transcript(json_t *b)
{
	json_t *t = json_object_get(b, "transcript");
	json_t *rec = json_object_get(b, "recorded");

	if (json_is_integer(rec) && json_integer_value(rec) &&
	    json_is_integer(json_object_get(b, "id")))
		json_object_set_new(b, "recording_url", json_sprintf("/api/bookings/%lld/recording",
				    (long long)json_integer_value(json_object_get(b, "id"))));
	json_object_del(b, "recorded");

	if (json_is_string(t)) {
		json_t *v = json_loadb(json_string_value(t), json_string_length(t), 0, NULL);
		if (v)
			json_object_set_new(b, "transcript", v);
	}
	return b;
}

static void list_done(struct api *a, struct api_job *job, int rc)
{
	struct list_job *l = (struct list_job *)job;
	enum api_endpoint ep = l->mode == LIST_ONE ? API_EP_BOOKING : API_EP_BOOKINGS;

	if (!l->req) {
		l->newer(a, rc < 0 ? NULL : l->rows);
		l->rows = NULL;		/* newer took them */
		return;
	}
	if (rc < 0) {
		api_error(a, l->req, 503, ep, l->t0, DB_503);
		return;
	}
	size_t n = json_array_size(l->rows);
	if (l->mode == LIST_ONE && !n) {
		api_error(a, l->req, 404, ep, l->t0, "no booking %lld", l->one);
	} else if (l->mode == LIST_ONE) {
		api_reply(a, l->req, 200, json_pack("{s:O}", "booking",
			  with_transcript(json_array_get(l->rows, 0))), ep, l->t0);
	} else {
		api_reply(a, l->req, 200, json_pack("{s:o, s:I, s:I, s:o}", "bookings", l->rows,
			  "count", (json_int_t)n, "offset", (json_int_t)l->offset, "next_offset",
			  n == (size_t)l->limit ? json_integer(l->offset + l->limit) :
			  json_null()), ep, l->t0);
		l->rows = NULL;		/* the reply took it */
	}
}

static void list_release(struct api_job *job)
{
	json_decref(((struct list_job *)job)->rows);
}

static struct list_job *list_job_new(enum list_mode mode)
{
	struct list_job *l = (struct list_job *)api_job_new(sizeof(*l), list_run, list_done,
							    list_release);
	if (l) {
		l->mode = mode;
		l->disp = -1;
	}
	return l;
}

/* A query parameter's text into out (at most len - 1 bytes), or false. */
static bool query_str(struct evkeyvalq *q, const char *key, char *out, size_t len)
{
	const char *v = evhttp_find_header(q, key);

	out[0] = '\0';
	if (!v)
		return true;
	if (strlen(v) >= len)
		return false;
	strcpy(out, v);
	return true;
}

/*
 * Where the business day began, in UTC as MariaDB writes it: the api runs
 * in [api] time_zone (api_main.c), and created_at is UTC.
 */
static void day_start_utc(char *out, size_t len)
{
	time_t now = time(NULL), start;
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	start = mktime(&tm);
	gmtime_r(&start, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void submit_list(struct api *a, struct evhttp_request *req, struct list_job *l,
			enum api_endpoint ep, int64_t t0)
{
	l->req = req;
	l->t0 = t0;
	if (api_db_submit(a, &l->j, BOARD_WAIT_MS) == 0)
		return;
	api_job_free(&l->j);
	api_error(a, req, 503, ep, t0, DB_503);
}

void api_bookings(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct evkeyvalq q;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct list_job *l = list_job_new(LIST_PAGE);
	long long board;

	if (!l) {
		api_error(a, req, 503, API_EP_BOOKINGS, t0, DB_503);
		return;
	}
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		api_job_free(&l->j);
		api_error(a, req, 400, API_EP_BOOKINGS, t0, "malformed query string");
		return;
	}
	bool ok = query_int(&q, "dispatched", 0, 1, -1, &l->disp) &&
		  query_int(&q, "limit", 1, PAGE_MAX, 50, &l->limit) &&
		  query_int(&q, "offset", 0, 1000000000, 0, &l->offset) &&
		  query_int(&q, "today_or_open", 0, 1, 0, &board) &&
		  query_str(&q, "did", l->did, sizeof(l->did)) &&
		  query_str(&q, "company", l->company, sizeof(l->company));
	evhttp_clear_headers(&q);
	if (!ok) {
		api_job_free(&l->j);
		api_error(a, req, 400, API_EP_BOOKINGS, t0,
			  "dispatched and today_or_open are 0 or 1, limit 1 to %d, offset from 0, "
			  "did and company text", PAGE_MAX);
		return;
	}
	if (board)
		day_start_utc(l->since, sizeof(l->since));
	submit_list(a, req, l, API_EP_BOOKINGS, t0);
}

void api_booking_one(struct api *a, struct evhttp_request *req, const char *id, int64_t t0)
{
	struct list_job *l = list_job_new(LIST_ONE);

	if (!l) {
		api_error(a, req, 503, API_EP_BOOKING, t0, DB_503);
		return;
	}
	l->one = strtoll(id, NULL, 10);
	if (l->one <= 0) {
		api_job_free(&l->j);
		api_error(a, req, 404, API_EP_BOOKING, t0, "no booking %s", id);
		return;
	}
	submit_list(a, req, l, API_EP_BOOKING, t0);
}

int api_bookings_newer(struct api *a, long long after_id, int limit, api_newer_fn done)
{
	struct list_job *l = list_job_new(after_id < 0 ? LIST_MAX : LIST_NEWER);
	int rc;

	if (!l)
		return -ENOMEM;
	l->newer = done;
	l->after = after_id;
	l->limit = limit;
	if ((rc = api_db_submit(a, &l->j, BOARD_WAIT_MS)) < 0)
		api_job_free(&l->j);
	return rc;
}

/* On the database thread. */
static int dispatch_run(struct api_dbconn *c, struct api_job *job)
{
	struct dispatch_job *dj = (struct dispatch_job *)job;
	MYSQL_STMT *st = mysql_stmt_init(c->db);
	MYSQL_BIND b[2];
	unsigned long nlen = (unsigned long)dj->notes_len;
	my_bool nnull = dj->notes == NULL;

	memset(b, 0, sizeof(b));
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = dj->notes ? dj->notes : (char *)"";
	b[0].length = &nlen;
	b[0].is_null = &nnull;
	b[1].buffer_type = MYSQL_TYPE_LONGLONG;
	b[1].buffer = &dj->id;
	bool ok = st && !mysql_stmt_prepare(st, SQL_DISPATCH, sizeof(SQL_DISPATCH) - 1) &&
		  !mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st);
	int rc = ok ? 0 : api_db_fail(c, st, "dispatching a booking");
	if (ok)
		dj->changed = mysql_stmt_affected_rows(st);
	if (st)
		mysql_stmt_close(st);
	return rc;
}

/* Every board sees it move; the time is ours, a second from MariaDB's. */
static void announce_dispatch(struct api *a, const struct dispatch_job *dj)
{
	time_t now = time(NULL);
	struct tm tm;
	char at[32];

	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	api_sse_send(a, "dispatched", json_pack("{s:I, s:b, s:s, s:o}", "id", (json_int_t)dj->id,
		     "dispatched", 1, "dispatched_at", at, "notes",
		     dj->notes ? json_stringn(dj->notes, dj->notes_len) : json_null()));
}

static void dispatch_done(struct api *a, struct api_job *job, int rc)
{
	struct dispatch_job *dj = (struct dispatch_job *)job;

	if (rc < 0) {
		api_error(a, dj->req, 503, API_EP_DISPATCH, dj->t0, DB_503);
	} else if (!dj->changed) {
		api_error(a, dj->req, 404, API_EP_DISPATCH, dj->t0, "no booking %lld", dj->id);
	} else {
		log_info("api", NULL, "booking %lld dispatched", dj->id);
		announce_dispatch(a, dj);
		api_reply(a, dj->req, 200, json_pack("{s:b, s:I, s:b}", "success", 1, "booking_id",
			  (json_int_t)dj->id, "dispatched", 1), API_EP_DISPATCH, dj->t0);
	}
}

static void dispatch_release(struct api_job *job)
{
	free(((struct dispatch_job *)job)->notes);
}

void api_dispatch(struct api *a, struct evhttp_request *req, const char *id_s, int64_t t0)
{
	json_t *in = api_body(a, req, API_EP_DISPATCH, t0), *notes;
	struct dispatch_job *dj;

	if (!in)
		return;
	notes = json_object_get(in, "notes");
	/* utf8_chars() < 0: not text (jansson already refuses such strings). */
	long chars = json_is_string(notes) ? utf8_chars(json_string_value(notes),
							json_string_length(notes)) : 0;
	if (notes && !json_is_null(notes) && (!json_is_string(notes) || chars < 0 || chars > 4000)) {
		json_decref(in);
		api_error(a, req, 400, API_EP_DISPATCH, t0, "notes must be text of up to 4000 "
			  "characters");
		return;
	}
	dj = (struct dispatch_job *)api_job_new(sizeof(*dj), dispatch_run, dispatch_done,
						dispatch_release);
	bool ok = dj != NULL;
	if (dj) {
		dj->req = req;
		dj->t0 = t0;
		dj->id = strtoll(id_s, NULL, 10);
		if (json_is_string(notes)) {
			dj->notes_len = json_string_length(notes);
			dj->notes = malloc(dj->notes_len + 1);
			ok = dj->notes != NULL;
			if (ok)
				memcpy(dj->notes, json_string_value(notes), dj->notes_len + 1);
		}
	}
	json_decref(in);
	if (ok && api_db_submit(a, &dj->j, BOARD_WAIT_MS) == 0)
		return;
	if (dj)
		api_job_free(&dj->j);
	api_error(a, req, 503, API_EP_DISPATCH, t0, DB_503);
}
