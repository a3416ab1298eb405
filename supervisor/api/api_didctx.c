/*
 * api_didctx.c - POST /api/voice-agent/did_context: who was called, and
 * has this caller rung before.
 *
 * Who was called comes from the DID map in memory (api_didmap.c). The
 * answer is the seed's JSON, field for field: an unknown DID gets the
 * seed's fallback context (plus trade_label, did_number and caller_id, so
 * a cloud agent's assignments find every variable they name).
 *
 * The repeat check is one indexed query on the database thread, and the
 * call waits for it at most REPEAT_WAIT_MS: a phone is ringing. While
 * MariaDB is down, hangs or is slow, the answer says "not a repeat" rather
 * than delay the call.
 */
#include "api.h"
#include "api_req.h"

#include <errno.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/conf.h"
#include "../../common/log.h"

#define REPEAT_WAIT_MS 500

static const char SQL_REPEAT[] =
	"SELECT 1 FROM doppia_calls WHERE phone_number = ? AND did = ? "
	"AND last_call_time >= UTC_TIMESTAMP() - INTERVAL ? DAY LIMIT 1";

struct repeat_job {
	struct api_job j;
	struct evhttp_request *req;
	int64_t t0;
	struct didctx_req r;
	struct did_entry e;
	long long days;
	bool found;		/* run's result */
};

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

static void reply_known(struct api *a, struct evhttp_request *req, int64_t t0,
			const struct did_entry *e, const struct didctx_req *r, bool repeat)
{
	char greeting[96];

	snprintf(greeting, sizeof(greeting), "Hello, %s. How can I help you?", time_of_day());
	api_reply(a, req, 200, json_pack("{s:s, s:s, s:s, s:i, s:s?, s:b, s:s, s:s, s:s}",
		"company_name", e->name, "trade_type", e->trade, "trade_label",
		trade_label(e->trade), "callout_fee", e->fee, "area", e->has_area ? e->area : NULL,
		"is_repeat", repeat, "did_number", r->did, "caller_id", r->cli, "greeting", greeting),
		API_EP_DID_CONTEXT, t0);
}

/* On the database thread. */
static int repeat_run(struct api_dbconn *c, struct api_job *job)
{
	struct repeat_job *rj = (struct repeat_job *)job;
	MYSQL_BIND b[3];
	unsigned long lc = strlen(rj->r.cli), ld = strlen(rj->r.did);

	if (!c->st_repeat && (!(c->st_repeat = mysql_stmt_init(c->db)) ||
			      mysql_stmt_prepare(c->st_repeat, SQL_REPEAT, sizeof(SQL_REPEAT) - 1)))
		return api_db_fail(c, c->st_repeat, "preparing the repeat-caller check");
	memset(b, 0, sizeof(b));
	b[0].buffer_type = b[1].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = rj->r.cli;
	b[0].length = &lc;
	b[1].buffer = rj->r.did;
	b[1].length = &ld;
	b[2].buffer_type = MYSQL_TYPE_LONGLONG;
	b[2].buffer = &rj->days;
	if (mysql_stmt_bind_param(c->st_repeat, b) || mysql_stmt_execute(c->st_repeat) ||
	    mysql_stmt_store_result(c->st_repeat))
		return api_db_fail(c, c->st_repeat, "repeat-caller check");
	rj->found = mysql_stmt_num_rows(c->st_repeat) > 0;
	mysql_stmt_free_result(c->st_repeat);
	return 0;
}

static void repeat_done(struct api *a, struct api_job *job, int rc)
{
	struct repeat_job *rj = (struct repeat_job *)job;

	if (rc == -ETIMEDOUT)
		log_warn("api", NULL, "repeat-caller check took over %d ms: answered as no repeat",
			 REPEAT_WAIT_MS);
	reply_known(a, rj->req, rj->t0, &rj->e, &rj->r, rc == 0 && rj->found);
}

void api_did_context(struct api *a, struct evhttp_request *req, int64_t t0)
{
	struct didctx_req r;
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
	const struct did_entry *e = api_did_find(a, r.did);
	if (!e) {
		api_reply(a, req, 200, json_pack("{s:s, s:s, s:s, s:i, s:n, s:b, s:s, s:s, s:s}",
			"company_name", "Home Services", "trade_type", "plumbing",
			"trade_label", "plumber", "callout_fee", 49, "area", "is_repeat", 0,
			"did_number", r.did, "caller_id", r.cli,
			"greeting", "Hello, how can I help you?"), API_EP_DID_CONTEXT, t0);
		return;
	}
	struct repeat_job *rj = NULL;
	if (r.cli[0])
		rj = (struct repeat_job *)api_job_new(sizeof(*rj), repeat_run, repeat_done, NULL);
	if (rj) {
		rj->req = req;
		rj->t0 = t0;
		rj->r = r;
		rj->e = *e;	/* the map may be replaced while the check runs */
		rj->days = a->conf->api_repeat_days;
		if (api_db_submit(a, &rj->j, REPEAT_WAIT_MS) == 0)
			return;
		api_job_free(&rj->j);
	}
	reply_known(a, req, t0, e, &r, false);	/* no caller ID, or MariaDB down */
}
