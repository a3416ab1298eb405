/*
 * api_didctx.c - POST /api/voice-agent/did_context: who was called, and
 * has this caller rung before.
 *
 * The DID map (did_company_map) is held in memory, sorted, so the answer
 * needs no database round trip; it is reloaded every did_refresh seconds
 * and by every new api process (one starts on each SIGHUP). The last map
 * loaded is also kept in <journal_dir>/did_map.json, so an api that starts
 * while MariaDB is down still knows every company.
 *
 * The answer is the seed's JSON, field for field: an unknown DID gets the
 * seed's fallback context (plus trade_label, did_number and caller_id, so
 * a cloud agent's assignments find every variable they name). The repeat
 * check is one indexed query; while MariaDB is down it says "not a repeat"
 * rather than delay the call.
 */
#include "api.h"
#include "api_req.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/conf.h"
#include "../common/log.h"

static const char SQL_MAP[] =
	"SELECT did, clean_name, trade_type, callout_fee, area FROM did_company_map";
static const char SQL_REPEAT[] =
	"SELECT 1 FROM doppia_calls WHERE phone_number = ? AND did = ? "
	"AND last_call_time >= UTC_TIMESTAMP() - INTERVAL ? DAY LIMIT 1";

static int cmp_did(const void *x, const void *y)
{
	return strcmp(((const struct did_entry *)x)->did, ((const struct did_entry *)y)->did);
}

static void map_set(struct api *a, struct did_entry *e, size_t n)
{
	qsort(e, n, sizeof(*e), cmp_did);
	free(a->dids);
	a->dids = e;
	a->ndids = n;
}

static void cache_path(const struct api *a, char *out, size_t len)
{
	snprintf(out, len, "%s/did_map.json", a->conf->journal_dir);
}

static void cache_save(const struct api *a)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	json_t *arr = json_array();

	for (size_t i = 0; i < a->ndids; i++) {
		const struct did_entry *e = &a->dids[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:s?}", "did", e->did,
						     "name", e->name, "trade", e->trade, "fee", e->fee,
						     "area", e->has_area ? e->area : NULL));
	}
	cache_path(a, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(arr, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0)
		log_debug("api", NULL, "DID map cached in %s", path);
	json_decref(arr);
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static int cache_load(struct api *a)
{
	char path[PATH_MAX + 32];
	json_error_t jerr;
	json_t *arr, *v;
	size_t i;

	cache_path(a, path, sizeof(path));
	if (!(arr = json_load_file(path, 0, &jerr)) || !json_is_array(arr)) {
		json_decref(arr);
		return -ENOENT;
	}
	struct did_entry *e = calloc(json_array_size(arr) + 1, sizeof(*e));
	if (!e) {
		json_decref(arr);
		return -ENOMEM;
	}
	json_array_foreach(arr, i, v) {
		const char *area = json_string_value(json_object_get(v, "area"));
		copy_str(e[i].did, sizeof(e[i].did), json_string_value(json_object_get(v, "did")));
		copy_str(e[i].name, sizeof(e[i].name), json_string_value(json_object_get(v, "name")));
		copy_str(e[i].trade, sizeof(e[i].trade),
			 json_string_value(json_object_get(v, "trade")));
		e[i].fee = (int)json_integer_value(json_object_get(v, "fee"));
		e[i].has_area = area != NULL;
		copy_str(e[i].area, sizeof(e[i].area), area);
	}
	map_set(a, e, json_array_size(arr));
	json_decref(arr);
	log_warn("api", NULL, "MariaDB down: DID map of %zu from %s", a->ndids, path);
	return 0;
}

/* Loads did_company_map; 0 or -EAGAIN (MariaDB unavailable). */
static int map_load(struct api *a)
{
	MYSQL *db = api_db(a);
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (!db)
		return -EAGAIN;
	if (mysql_query(db, SQL_MAP) || !(res = mysql_store_result(db))) {
		api_db_failed(a, "loading did_company_map");
		return -EAGAIN;
	}
	size_t n = (size_t)mysql_num_rows(res), i = 0;
	struct did_entry *e = calloc(n + 1, sizeof(*e));
	while (e && (row = mysql_fetch_row(res))) {
		copy_str(e[i].did, sizeof(e[i].did), row[0]);
		copy_str(e[i].name, sizeof(e[i].name), row[1]);
		copy_str(e[i].trade, sizeof(e[i].trade), row[2]);
		e[i].fee = row[3] ? atoi(row[3]) : 49;
		e[i].has_area = row[4] != NULL;
		copy_str(e[i].area, sizeof(e[i].area), row[4]);
		i++;
	}
	mysql_free_result(res);
	if (!e)
		return -ENOMEM;
	map_set(a, e, i);
	cache_save(a);
	return 0;
}

void api_did_refresh(struct api *a)
{
	if (map_load(a) < 0 && !a->dids)
		cache_load(a);
}

static const struct did_entry *map_find(const struct api *a, const char *did)
{
	struct did_entry key;

	snprintf(key.did, sizeof(key.did), "%s", did);
	return a->ndids ? bsearch(&key, a->dids, a->ndids, sizeof(key), cmp_did) : NULL;
}

static bool repeat_caller(struct api *a, const char *cli, const char *did)
{
	MYSQL *db = api_db(a);
	MYSQL_BIND b[3];
	unsigned long lc = strlen(cli), ld = strlen(did);
	long long days = a->conf->api_repeat_days;
	bool found;

	if (!db)
		return false;
	if (!a->st_repeat && (!(a->st_repeat = mysql_stmt_init(db)) ||
			      mysql_stmt_prepare(a->st_repeat, SQL_REPEAT, sizeof(SQL_REPEAT) - 1))) {
		api_db_failed(a, "preparing the repeat-caller check");
		return false;
	}
	memset(b, 0, sizeof(b));
	b[0].buffer_type = b[1].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = (void *)cli;
	b[0].length = &lc;
	b[1].buffer = (void *)did;
	b[1].length = &ld;
	b[2].buffer_type = MYSQL_TYPE_LONGLONG;
	b[2].buffer = &days;
	if (mysql_stmt_bind_param(a->st_repeat, b) || mysql_stmt_execute(a->st_repeat) ||
	    mysql_stmt_store_result(a->st_repeat)) {
		api_db_failed(a, "repeat-caller check");
		return false;
	}
	found = mysql_stmt_num_rows(a->st_repeat) > 0;
	mysql_stmt_free_result(a->st_repeat);
	return found;
}

static const char *trade_label(const char *trade)
{
	static const char *const map[][2] = {
		{ "plumbing", "plumber" }, { "electrical", "electrician" },
		{ "drainage", "drainage engineer" }, { "locksmith", "locksmith" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(trade, map[i][0]))
			return map[i][1];
	return "engineer";
}

/* "good morning" before noon, "good afternoon" before six, else evening. */
static const char *time_of_day(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);	/* TZ is [api] time_zone, set at start-up */
	return tm.tm_hour < 12 ? "good morning" : tm.tm_hour < 18 ? "good afternoon" :
				 "good evening";
}

void api_did_context(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct didctx_req r;
	char greeting[96];
	const char *bad;
	json_t *in = api_body(a, req, API_EP_DID_CONTEXT, t0);

	if (!in)
		return;
	bad = didctx_parse(in, &r);
	json_decref(in);
	if (bad) {
		api_error(a, req, 400, API_EP_DID_CONTEXT, t0, "%s", bad);
		return;
	}
	const char *did = r.did, *cli = r.cli;
	const struct did_entry *e = map_find(a, did);
	if (!e) {
		api_reply(a, req, 200, json_pack("{s:s, s:s, s:s, s:i, s:n, s:b, s:s, s:s, s:s}",
			"company_name", "Home Services", "trade_type", "plumbing",
			"trade_label", "plumber", "callout_fee", 49, "area", "is_repeat", 0,
			"did_number", did, "caller_id", cli,
			"greeting", "Hello, how can I help you?"), API_EP_DID_CONTEXT, t0);
		return;
	}
	bool repeat = cli[0] && repeat_caller(a, cli, did);
	snprintf(greeting, sizeof(greeting), "Hello, %s. How can I help you?", time_of_day());
	api_reply(a, req, 200, json_pack("{s:s, s:s, s:s, s:i, s:s?, s:b, s:s, s:s, s:s}",
		"company_name", e->name, "trade_type", e->trade, "trade_label",
		trade_label(e->trade), "callout_fee", e->fee, "area", e->has_area ? e->area : NULL,
		"is_repeat", repeat, "did_number", did, "caller_id", cli, "greeting", greeting),
		API_EP_DID_CONTEXT, t0);
}
