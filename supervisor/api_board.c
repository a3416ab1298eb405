/*
 * api_board.c - the dispatch team's side: GET /api/bookings (newest first,
 * paged, filtered by dispatched) and POST /api/bookings/{id}/dispatch
 * (mark assigned, with notes), as the seed's workflow does by hand in SQL.
 *
 * Both need MariaDB now (the team acts on what it sees), so while it is
 * down they answer 503; bookings keep being taken meanwhile.
 */
#include "api.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "../common/conf.h"
#include "../common/record.h"
#include "../common/log.h"

#define PAGE_MAX 200

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

void api_bookings(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct evkeyvalq q;
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	long long disp, limit, offset;
	MYSQL *db;
	MYSQL_STMT *st = NULL;
	MYSQL_BIND b[4];

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
	if (!(db = api_db(a))) {
		api_error(a, req, 503, API_EP_BOOKINGS, t0, "database unavailable; try again");
		return;
	}
	memset(b, 0, sizeof(b));
	long long *vals[] = { &disp, &disp, &limit, &offset };
	for (int i = 0; i < 4; i++) {
		b[i].buffer_type = MYSQL_TYPE_LONGLONG;
		b[i].buffer = vals[i];
	}
	json_t *rows = NULL;
	if ((st = mysql_stmt_init(db)) && !mysql_stmt_prepare(st, SQL_LIST, sizeof(SQL_LIST) - 1) &&
	    !mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st))
		rows = rows_json(st);
	if (!rows) {
		api_db_failed(a, "listing bookings");
		if (st)
			mysql_stmt_close(st);
		api_error(a, req, 503, API_EP_BOOKINGS, t0, "database unavailable; try again");
		return;
	}
	mysql_stmt_close(st);
	size_t n = json_array_size(rows);
	api_reply(a, req, 200, json_pack("{s:o, s:I, s:I, s:o}", "bookings", rows,
		  "count", (json_int_t)n, "offset", (json_int_t)offset, "next_offset",
		  n == (size_t)limit ? json_integer(offset + limit) : json_null()),
		  API_EP_BOOKINGS, t0);
}

void api_dispatch(struct api *a, struct evhttp_request *req, const char *id_s, int64_t t0)
{
	json_t *in = api_body(a, req, API_EP_DISPATCH, t0), *notes;
	long long id = strtoll(id_s, NULL, 10);
	MYSQL *db;
	MYSQL_STMT *st;
	MYSQL_BIND b[2];
	unsigned long nlen = 0;
	my_bool nnull = 1;

	if (!in)
		return;
	notes = json_object_get(in, "notes");
	if (notes && !json_is_null(notes) &&
	    (!json_is_string(notes) || utf8_chars(json_string_value(notes),
						  json_string_length(notes)) > 4000)) {
		json_decref(in);
		api_error(a, req, 400, API_EP_DISPATCH, t0, "notes must be text of up to 4000 "
			  "characters");
		return;
	}
	if (!(db = api_db(a))) {
		json_decref(in);
		api_error(a, req, 503, API_EP_DISPATCH, t0, "database unavailable; try again");
		return;
	}
	memset(b, 0, sizeof(b));
	if (json_is_string(notes)) {
		nlen = json_string_length(notes);
		nnull = 0;
	}
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = (void *)(nnull ? "" : json_string_value(notes));
	b[0].length = &nlen;
	b[0].is_null = &nnull;
	b[1].buffer_type = MYSQL_TYPE_LONGLONG;
	b[1].buffer = &id;
	st = mysql_stmt_init(db);
	bool ok = st && !mysql_stmt_prepare(st, SQL_DISPATCH, sizeof(SQL_DISPATCH) - 1) &&
		  !mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st);
	my_ulonglong rows = ok ? mysql_stmt_affected_rows(st) : 0;
	if (st)
		mysql_stmt_close(st);
	json_decref(in);
	if (!ok) {
		api_db_failed(a, "dispatching a booking");
		api_error(a, req, 503, API_EP_DISPATCH, t0, "database unavailable; try again");
	} else if (!rows) {
		api_error(a, req, 404, API_EP_DISPATCH, t0, "no booking %lld", id);
	} else {
		log_info("api", NULL, "booking %lld dispatched", id);
		api_reply(a, req, 200, json_pack("{s:b, s:I, s:b}", "success", 1, "booking_id",
			  (json_int_t)id, "dispatched", 1), API_EP_DISPATCH, t0);
	}
}
