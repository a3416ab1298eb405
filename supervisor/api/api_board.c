/*
 * api_board.c - the dispatch team's side: GET /api/bookings (newest first,
 * paged, filtered by dispatched) and POST /api/bookings/{id}/dispatch
 * (mark assigned, with notes), as the seed's workflow does by hand in SQL.
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

#include "../../common/conf.h"
#include "../../common/booking/record.h"
#include "../../common/log.h"

#define PAGE_MAX 200
#define BOARD_WAIT_MS 3000
#define DB_503 "database unavailable; try again"

static const char SQL_LIST[] =
	"SELECT id, booking_ref, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') AS created_at, "
	"customer_name, customer_phone, postcode, address, problem_description, trade_type, "
	"callout_fee, did_number, company_name, is_repeat, outcome, dispatched, "
	"DATE_FORMAT(dispatched_at, '%Y-%m-%dT%H:%i:%sZ') AS dispatched_at, notes, source, "
	"call_uuid FROM ai_agent_bookings WHERE (? < 0 OR dispatched = ?) "
	"ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";

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

struct list_job {
	struct api_job j;
	struct evhttp_request *req;
	int64_t t0;
	long long disp, limit, offset;
	json_t *rows;		/* run's result */
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

/* On the database thread. */
static int list_run(struct api_dbconn *c, struct api_job *job)
{
	struct list_job *l = (struct list_job *)job;
	MYSQL_STMT *st = mysql_stmt_init(c->db);
	MYSQL_BIND b[4];
	long long *vals[] = { &l->disp, &l->disp, &l->limit, &l->offset };

	memset(b, 0, sizeof(b));
	for (int i = 0; i < 4; i++) {
		b[i].buffer_type = MYSQL_TYPE_LONGLONG;
		b[i].buffer = vals[i];
	}
	if (st && !mysql_stmt_prepare(st, SQL_LIST, sizeof(SQL_LIST) - 1) &&
	    !mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st))
		l->rows = rows_json(st);
	int rc = l->rows ? 0 : api_db_fail(c, st, "listing bookings");
	if (st)
		mysql_stmt_close(st);
	return rc;
}

static void list_done(struct api *a, struct api_job *job, int rc)
{
	struct list_job *l = (struct list_job *)job;

	if (rc < 0) {
		api_error(a, l->req, 503, API_EP_BOOKINGS, l->t0, DB_503);
		return;
	}
	size_t n = json_array_size(l->rows);
	api_reply(a, l->req, 200, json_pack("{s:o, s:I, s:I, s:o}", "bookings", l->rows,
		  "count", (json_int_t)n, "offset", (json_int_t)l->offset, "next_offset",
		  n == (size_t)l->limit ? json_integer(l->offset + l->limit) : json_null()),
		  API_EP_BOOKINGS, l->t0);
	l->rows = NULL;		/* the reply took it */
}

static void list_release(struct api_job *job)
{
	json_decref(((struct list_job *)job)->rows);
}

void api_bookings(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct evkeyvalq q;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	long long disp, limit, offset;

	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		api_error(a, req, 400, API_EP_BOOKINGS, t0, "malformed query string");
		return;
	}
	bool ok = query_int(&q, "dispatched", 0, 1, -1, &disp) &&
		  query_int(&q, "limit", 1, PAGE_MAX, 50, &limit) &&
		  query_int(&q, "offset", 0, 1000000000, 0, &offset);
	evhttp_clear_headers(&q);
	if (!ok) {
		api_error(a, req, 400, API_EP_BOOKINGS, t0,
			  "dispatched is 0 or 1, limit 1 to %d, offset from 0", PAGE_MAX);
		return;
	}
	struct list_job *l = (struct list_job *)api_job_new(sizeof(*l), list_run, list_done,
							    list_release);
	if (l) {
		l->req = req;
		l->t0 = t0;
		l->disp = disp;
		l->limit = limit;
		l->offset = offset;
		if (api_db_submit(a, &l->j, BOARD_WAIT_MS) == 0)
			return;
		api_job_free(&l->j);
	}
	api_error(a, req, 503, API_EP_BOOKINGS, t0, DB_503);
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

static void dispatch_done(struct api *a, struct api_job *job, int rc)
{
	struct dispatch_job *dj = (struct dispatch_job *)job;

	if (rc < 0) {
		api_error(a, dj->req, 503, API_EP_DISPATCH, dj->t0, DB_503);
	} else if (!dj->changed) {
		api_error(a, dj->req, 404, API_EP_DISPATCH, dj->t0, "no booking %lld", dj->id);
	} else {
		log_info("api", NULL, "booking %lld dispatched", dj->id);
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
