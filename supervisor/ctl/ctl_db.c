/*
 * ctl_db.c - vagentctl db migrate / db status.
 *
 * Owns: the schema_migrations table and the order in which the files of
 * SQL_DIR/migrations/NNN_name.sql are applied. migrate takes a named
 * server lock (GET_LOCK, per database) so two runs cannot interleave,
 * applies every migration not recorded in schema_migrations, lowest number
 * first, and records one only after its last statement succeeded. status
 * reads and never writes.
 *
 * A migration file is split into statements on ';' outside quotes ('', "",
 * ``) and comments (--, #, / * * /) and each statement is sent alone with
 * mysql_real_query, so an error names its line. Limitation: no DELIMITER,
 * hence no stored procedures, triggers or events with BEGIN ... END bodies.
 * MariaDB commits DDL statement by statement, so a migration that fails
 * half way is not recorded and runs again from the top next time; the
 * migrations are written so that this is harmless (sql/README.md).
 *
 * Must never: print the password, record a migration that failed, or
 * change anything in status. Fails with one line on stderr naming the file,
 * the line and MariaDB's error, and exit status 1.
 */
#include "ctl_db.h"
#include "ctl_split.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/conf.h"
#include "../../common/booking/db.h"

#ifndef VAGENT_SQLDIR
#define VAGENT_SQLDIR "/usr/local/share/vagent/sql"
#endif

#define MIGRATION_MAX_BYTES (64u << 20)
#define LOCK_WAIT_S 60

static const char create_schema_migrations[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INT UNSIGNED NOT NULL COMMENT 'NNN of migrations/NNN_name.sql',"
	" name VARCHAR(255) NOT NULL COMMENT 'File name',"
	" applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'UTC',"
	" PRIMARY KEY (version)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/* One lock per database: the name is ours, the database the server's. */
#define LOCK_NAME "LEFT(CONCAT('vagent.migrate.', DATABASE()), 64)"

struct migration {
	unsigned int version;
	char file[256];			/* NNN_name.sql */
};

struct mig_set {
	char dir[PATH_MAX];		/* SQL_DIR/migrations */
	struct migration *v;		/* sorted by version */
	size_t n;
};

struct applied {
	unsigned int *v;		/* sorted */
	size_t n;
};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: vagentctl [-c FILE] db migrate [-s SQL_DIR]\n"
		"       vagentctl [-c FILE] db status [-s SQL_DIR]\n"
		"  migrate   apply the migrations not yet applied, in order\n"
		"  status    the schema version and the migrations pending\n"
		"  -s DIR    where migrations/ is (default %s, else ./sql)\n",
		VAGENT_SQLDIR);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* -s, else the installed copy, else the source tree's. */
static int pick_sql_dir(const char *opt, char *dir, size_t len)
{
	char m[PATH_MAX];

	if (opt) {
		snprintf(dir, len, "%s", opt);
	} else {
		snprintf(m, sizeof(m), "%s/migrations", VAGENT_SQLDIR);
		snprintf(dir, len, "%s", is_dir(m) ? VAGENT_SQLDIR : "./sql");
	}
	int n = snprintf(m, sizeof(m), "%s/migrations", dir);
	if (n < 0 || (size_t)n >= sizeof(m) || (size_t)n >= len) {
		fprintf(stderr, "vagentctl: %s: path too long\n", dir);
		return -ENAMETOOLONG;
	}
	if (!is_dir(m)) {
		fprintf(stderr, "vagentctl: %s: no such directory (use -s SQL_DIR)\n", m);
		return -ENOENT;
	}
	return 0;
}

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/*
 * "NNN_name.sql": digits, '_', then letters, digits, '_', '-', '.'.
 * Returns the version, 0 if name is no .sql file (ignored), -EINVAL if it
 * is a .sql file of another shape (refused: a misnamed migration must not be
 * skipped in silence).
 */
static long parse_name(const char *name)
{
	size_t len = strlen(name), i = 0;
	unsigned long v = 0;

	if (name[0] == '.' || len < 4 || strcmp(name + len - 4, ".sql"))
		return 0;
	for (; isdigit((unsigned char)name[i]); i++) {
		v = v * 10 + (unsigned long)(name[i] - '0');
		if (v > 999999999)
			return -EINVAL;
	}
	if (i == 0 || v == 0 || name[i] != '_' || i + 1 >= len - 4 || len >= 256)
		return -EINVAL;
	for (i++; i < len - 4; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_-.", name[i]))
			return -EINVAL;
	return (long)v;
}

static int scan(const char *sql_dir, struct mig_set *set)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	/* pick_sql_dir() checked that this fits. */
	if (snprintf(set->dir, sizeof(set->dir), "%s/migrations", sql_dir) >= (int)sizeof(set->dir))
		return -ENAMETOOLONG;
	if (!(d = opendir(set->dir))) {
		rc = -errno;
		fprintf(stderr, "vagentctl: %s: %s\n", set->dir, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		long v = parse_name(de->d_name);
		if (v == 0)
			continue;
		if (v < 0) {
			fprintf(stderr, "vagentctl: %s/%s: not named NNN_name.sql (NNN > 0)\n",
				set->dir, de->d_name);
			rc = -EINVAL;
			break;
		}
		struct migration *nv = realloc(set->v, (set->n + 1) * sizeof(*nv));
		if (!nv) {
			fprintf(stderr, "vagentctl: out of memory\n");
			rc = -ENOMEM;
			break;
		}
		set->v = nv;
		set->v[set->n].version = (unsigned int)v;
		snprintf(set->v[set->n].file, sizeof(set->v[set->n].file), "%s", de->d_name);
		set->n++;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), by_version);
	for (size_t i = 1; i < set->n; i++)
		if (set->v[i].version == set->v[i - 1].version) {
			fprintf(stderr, "vagentctl: %s: %s and %s have the same number\n",
				set->dir, set->v[i - 1].file, set->v[i].file);
			return -EEXIST;
		}
	return 0;
}

/* Runs a one-row, one-column query with an optional integer parameter. */
static int query_ll(MYSQL *m, const char *sql, const long long *param, long long *out,
		    bool *is_null, char *err, size_t errlen)
{
	MYSQL_BIND in = { 0 }, res = { 0 };
	MYSQL_STMT *st;
	long long p = param ? *param : 0;
	my_bool null = 0;
	int rc;

	if ((rc = db_prepare(m, sql, &st, err, errlen)) < 0)
		return rc;
	in.buffer_type = MYSQL_TYPE_LONGLONG;
	in.buffer = &p;
	res.buffer_type = MYSQL_TYPE_LONGLONG;
	res.buffer = out;
	res.is_null = &null;
	if ((param && mysql_stmt_bind_param(st, &in)) || mysql_stmt_execute(st) ||
	    mysql_stmt_bind_result(st, &res)) {
		rc = db_error(m, st, err, errlen);
		goto out;
	}
	switch (mysql_stmt_fetch(st)) {
	case 0:
		break;
	case MYSQL_NO_DATA:
		null = 1;
		break;
	default:
		rc = db_error(m, st, err, errlen);
		goto out;
	}
	*is_null = null;
	rc = 0;
out:
	db_stmt_close(st);
	return rc;
}

static int read_applied(MYSQL *m, struct applied *a, char *err, size_t errlen)
{
	MYSQL_BIND res = { 0 };
	MYSQL_STMT *st;
	unsigned int v;
	long long n;
	bool null;
	int rc, f;

	rc = query_ll(m, "SELECT COUNT(*) FROM information_schema.TABLES"
		      " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations'",
		      NULL, &n, &null, err, errlen);
	if (rc < 0 || n == 0)
		return rc;
	if ((rc = db_prepare(m, "SELECT version FROM schema_migrations ORDER BY version",
			     &st, err, errlen)) < 0)
		return rc;
	res.buffer_type = MYSQL_TYPE_LONG;
	res.buffer = &v;
	res.is_unsigned = 1;
	if (mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &res)) {
		rc = db_error(m, st, err, errlen);
		goto out;
	}
	while ((f = mysql_stmt_fetch(st)) == 0) {
		unsigned int *nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
		if (!nv) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		a->v = nv;
		a->v[a->n++] = v;
	}
	if (f != MYSQL_NO_DATA)
		rc = db_error(m, st, err, errlen);
out:
	db_stmt_close(st);
	return rc;
}

static bool is_applied(const struct applied *a, unsigned int v)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == v)
			return true;
	return false;
}

static unsigned int version_of(const struct applied *a)
{
	return a->n ? a->v[a->n - 1] : 0;
}

static bool in_set(const struct mig_set *set, unsigned int v)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].version == v)
			return true;
	return false;
}

/* Versions recorded with no file: a newer vagent migrated this database. */
static void note_unknown(const struct mig_set *set, const struct applied *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (!in_set(set, a->v[i]))
			fprintf(stderr, "vagentctl: note: version %u is recorded but %s has no "
				"such migration (migrated by a newer vagent?)\n", a->v[i], set->dir);
}

/* Reads a whole file into a NUL-terminated buffer. */
static int slurp(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (st.st_size < 0 || (unsigned long long)st.st_size > MIGRATION_MAX_BYTES) {
		errno = EFBIG;
		goto fail;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		goto fail;
	while (got < (size_t)st.st_size &&
	       ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0 ||
		(n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	if (got < (size_t)st.st_size) {
		if (!errno)
			errno = EIO;
		goto fail;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
fail:;
	int rc = errno ? -errno : -EIO;
	fprintf(stderr, "vagentctl: %s: %s\n", path, strerror(-rc));
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Runs every statement of one migration; 0, or -errno after printing why. */
static int apply(MYSQL *m, const struct mig_set *set, const struct migration *mg,
		 unsigned int from, int *nstmts)
{
	char path[PATH_MAX + 256], err[1024];
	struct splitter sp = { .line = 1 };
	unsigned int line = 0;
	size_t b = 0, e = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s", set->dir, mg->file);
	if ((r = slurp(path, &sp.s, &sp.len)) < 0)
		return r;
	*nstmts = 0;
	while ((r = split_next(&sp, &b, &e, &line)) == 1) {
		char saved = sp.s[e];
		sp.s[e] = '\0';
		int rc = db_exec(m, sp.s + b, err, sizeof(err));
		sp.s[e] = saved;
		if (rc < 0) {
			fprintf(stderr, "vagentctl: %s:%u: %s; migration %u not applied, "
				"schema left at version %u\n", path, line, err, mg->version, from);
			free(sp.s);
			return rc;
		}
		(*nstmts)++;
	}
	free(sp.s);
	if (r < 0) {
		fprintf(stderr, "vagentctl: %s:%u: quote or comment never closed; migration %u "
			"not applied, schema left at version %u\n", path, line, mg->version, from);
		return r;
	}
	return 0;
}

static int record(MYSQL *m, const struct migration *mg, char *err, size_t errlen)
{
	MYSQL_BIND in[2] = { { 0 } };
	MYSQL_STMT *st;
	unsigned int v = mg->version;
	unsigned long len = strlen(mg->file);
	int rc;

	if ((rc = db_prepare(m, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
			     &st, err, errlen)) < 0)
		return rc;
	in[0].buffer_type = MYSQL_TYPE_LONG;
	in[0].buffer = &v;
	in[0].is_unsigned = 1;
	in[1].buffer_type = MYSQL_TYPE_STRING;
	in[1].buffer = (void *)mg->file;
	in[1].buffer_length = len;
	in[1].length = &len;
	if (mysql_stmt_bind_param(st, in) || mysql_stmt_execute(st))
		rc = db_error(m, st, err, errlen);
	db_stmt_close(st);
	return rc;
}

/* Waits up to LOCK_WAIT_S for the database's migration lock. */
static int take_lock(MYSQL *m, const char *dbname)
{
	char err[1024];
	long long got = 0, wait = 0;
	bool null = false;
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = query_ll(m, "SELECT GET_LOCK(" LOCK_NAME ", ?)", &wait, &got, &null,
				   err, sizeof(err))) < 0) {
			fprintf(stderr, "vagentctl: migration lock of %s: %s\n", dbname, err);
			return rc;
		}
		if (!null && got == 1)
			return 0;
		if (attempt == 0)
			fprintf(stderr, "vagentctl: another migration of %s is running; "
				"waiting up to %d s\n", dbname, LOCK_WAIT_S);
		wait = LOCK_WAIT_S;
	}
	fprintf(stderr, "vagentctl: another migration of %s still running after %d s\n",
		dbname, LOCK_WAIT_S);
	return -EBUSY;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* 0, or -errno after printing why. */
static int migrate(MYSQL *m, const struct conf *c, const struct mig_set *set)
{
	struct applied a = { 0 };
	char err[1024];
	int rc;

	if ((rc = take_lock(m, c->db_name)) < 0)
		return rc;
	if ((rc = db_exec(m, create_schema_migrations, err, sizeof(err))) < 0) {
		fprintf(stderr, "vagentctl: creating schema_migrations: %s\n", err);
		goto out;
	}
	if ((rc = read_applied(m, &a, err, sizeof(err))) < 0) {
		fprintf(stderr, "vagentctl: reading schema_migrations: %s\n", err);
		goto out;
	}
	note_unknown(set, &a);
	for (size_t i = 0; i < set->n; i++) {
		const struct migration *mg = &set->v[i];
		struct timespec t0;
		int nstmts;

		if (is_applied(&a, mg->version))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((rc = apply(m, set, mg, version_of(&a), &nstmts)) < 0)
			goto out;
		if ((rc = record(m, mg, err, sizeof(err))) < 0) {
			fprintf(stderr, "vagentctl: %s/%s: applied, but recording it in "
				"schema_migrations failed: %s\n", set->dir, mg->file, err);
			goto out;
		}
		printf("applied %s (%d statement%s, %.2f s)\n", mg->file, nstmts,
		       nstmts == 1 ? "" : "s", since(&t0));
		fflush(stdout);
		free(a.v);
		a = (struct applied){ 0 };
		if ((rc = read_applied(m, &a, err, sizeof(err))) < 0) {
			fprintf(stderr, "vagentctl: reading schema_migrations: %s\n", err);
			goto out;
		}
	}
	printf("schema at version %u\n", version_of(&a));
	rc = 0;
out:
	db_exec(m, "DO RELEASE_LOCK(" LOCK_NAME ")", err, sizeof(err));
	free(a.v);
	return rc;
}

/* 0, or -errno after printing why. */
static int status(MYSQL *m, const struct mig_set *set)
{
	struct applied a = { 0 };
	char err[1024];
	size_t pending = 0;
	int rc;

	if ((rc = read_applied(m, &a, err, sizeof(err))) < 0) {
		fprintf(stderr, "vagentctl: reading schema_migrations: %s\n", err);
		return rc;
	}
	note_unknown(set, &a);
	printf("schema at version %u\n", version_of(&a));
	for (size_t i = 0; i < set->n; i++)
		if (!is_applied(&a, set->v[i].version)) {
			printf("pending %s\n", set->v[i].file);
			pending++;
		}
	if (!pending)
		printf("no migrations pending\n");
	free(a.v);
	return 0;
}

int ctl_db(const struct conf *c, int argc, char **argv)
{
	struct mig_set set = { 0 };
	const char *sql_opt = NULL, *sub;
	char sql_dir[PATH_MAX], err[1024];
	MYSQL *m = NULL;
	int opt, rc;

	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	sub = argv[0];
	if (!strcmp(sub, "-h") || !strcmp(sub, "help")) {
		usage(stdout);
		return 0;
	}
	if (strcmp(sub, "migrate") && strcmp(sub, "status")) {
		fprintf(stderr, "vagentctl: unknown db command '%s'\n", sub);
		usage(stderr);
		return 2;
	}
	optind = 0;	/* GNU: start over (vagentctl's own options were parsed already) */
	while ((opt = getopt(argc, argv, "+s:h")) != -1) {
		switch (opt) {
		case 's': sql_opt = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!c->db_name[0]) {
		fprintf(stderr, "vagentctl: %s: [db] database is empty\n", c->path);
		return 1;
	}
	if (pick_sql_dir(sql_opt, sql_dir, sizeof(sql_dir)) < 0 || scan(sql_dir, &set) < 0) {
		free(set.v);
		return 1;
	}
	/* No read timeout for migrate: an ALTER of a big table takes its time. */
	if (db_connect_timeout(c, !strcmp(sub, "migrate") ? 0 : DB_IO_TIMEOUT_S, &m,
			       err, sizeof(err)) < 0) {
		fprintf(stderr, "vagentctl: %s\n", err);
		free(set.v);
		mysql_library_end();
		return 1;
	}
	rc = !strcmp(sub, "migrate") ? migrate(m, c, &set) : status(m, &set);
	db_close(m);
	mysql_library_end();
	free(set.v);
	return rc < 0 ? 1 : 0;
}
