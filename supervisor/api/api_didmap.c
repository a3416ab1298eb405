/*
 * api_didmap.c - the DID map did_context answers from: did_company_map,
 * held in memory, sorted, so that an answer needs no database round trip.
 *
 * Loaded on the database thread (api_db.c) by every new api process (one
 * starts on each SIGHUP) and every did_refresh seconds; a load that fails
 * or hangs leaves the map as it was. The last map loaded is also kept in
 * <journal_dir>/did_map.json: an api that starts reads it first and takes
 * connections at once, so neither a reload nor a start while MariaDB is
 * down or hangs leaves a company unknown. Only with no map at all (a first
 * start) does the api wait for the first load, and not for long.
 *
 * Never: block the loop on MariaDB; trust the cache file's types.
 */
#include "api.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/conf.h"
#include "../../common/file_replace.h"
#include "../../common/log.h"

#define MAP_WAIT_MS 30000	/* nobody waits on it: only a bound on the job */
#define FIRST_MAP_WAIT_MS 2000	/* with no map at all, before taking connections */

static const char SQL_MAP[] =
	"SELECT did, clean_name, trade_type, callout_fee, area FROM did_company_map";

struct map_job {
	struct api_job j;
	struct did_entry *e;
	size_t n;
};

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

const struct did_entry *api_did_find(const struct api *a, const char *did)
{
	struct did_entry key;

	snprintf(key.did, sizeof(key.did), "%s", did);
	return a->ndids ? bsearch(&key, a->dids, a->ndids, sizeof(key), cmp_did) : NULL;
}

#define CACHE_NAME "did_map.json"

/*
 * Without fsync: a cache lost in a crash only means the next api waits for
 * MariaDB's map, as on a first start. 0640: company names are not the
 * world's business.
 */
static void cache_save(const struct api *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->ndids; i++) {
		const struct did_entry *e = &a->dids[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:s?}", "did", e->did,
						     "name", e->name, "trade", e->trade, "fee", e->fee,
						     "area", e->has_area ? e->area : NULL));
	}
	char *text = json_dumps(arr, JSON_COMPACT);
	if (text && file_replace(a->conf->journal_dir, CACHE_NAME, text, strlen(text), 0640,
				 false) == 0)
		log_debug("api", NULL, "DID map cached in %s/" CACHE_NAME, a->conf->journal_dir);
	free(text);
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

	snprintf(path, sizeof(path), "%s/" CACHE_NAME, a->conf->journal_dir);
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
	log_info("api", NULL, "DID map of %zu from %s until MariaDB's is loaded", a->ndids, path);
	return 0;
}

/* On the database thread. */
static int map_run(struct api_dbconn *c, struct api_job *job)
{
	struct map_job *m = (struct map_job *)job;
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(c->db, SQL_MAP) || !(res = mysql_store_result(c->db)))
		return api_db_fail(c, NULL, "loading did_company_map");
	size_t n = (size_t)mysql_num_rows(res), i = 0;
	struct did_entry *e = calloc(n + 1, sizeof(*e));
	while (e && i < n && (row = mysql_fetch_row(res))) {
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
	m->e = e;
	m->n = i;
	return 0;
}

static void map_done(struct api *a, struct api_job *job, int rc)
{
	struct map_job *m = (struct map_job *)job;

	a->map_loading = false;
	if (rc == 0) {
		map_set(a, m->e, m->n);
		m->e = NULL;
		cache_save(a);
	} else if (rc == -ETIMEDOUT) {
		log_warn("api", NULL, "did_company_map not loaded in %d ms; keeping the map of %zu",
			 MAP_WAIT_MS, a->ndids);
	}
	api_listen(a);
}

static void map_release(struct api_job *job)
{
	free(((struct map_job *)job)->e);
}

void api_did_refresh(struct api *a)
{
	struct api_job *j;

	if (a->map_loading)
		return;		/* the last one is still on its way */
	j = api_job_new(sizeof(struct map_job), map_run, map_done, map_release);
	if (j && api_db_submit(a, j, MAP_WAIT_MS) == 0) {
		a->map_loading = true;
		return;
	}
	api_job_free(j);
}

static void on_first_wait(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	(void)fd; (void)what;

	log_warn("api", NULL, "no DID map yet after %d ms: answering with the fallback context "
		 "until it loads", FIRST_MAP_WAIT_MS);
	api_listen(a);
}

int api_did_start(struct api *a)
{
	struct timeval tv = { FIRST_MAP_WAIT_MS / 1000, (FIRST_MAP_WAIT_MS % 1000) * 1000 };

	bool cached = cache_load(a) == 0;

	api_did_refresh(a);
	if (cached || !a->map_loading) {
		api_listen(a);
		return 0;
	}
	a->listen_ev = evtimer_new(a->base, on_first_wait, a);
	return a->listen_ev && evtimer_add(a->listen_ev, &tv) == 0 ? 0 : -ENOMEM;
}
