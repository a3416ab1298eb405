/*
 * db.c - MariaDB connections: options, password, session settings, errors.
 *
 * Every vagent connection is made here so that all of them agree on the
 * things that silently corrupt data when they differ: the character set
 * (utf8mb4; utf8 is 3-byte and mangles an emoji in a name), the time zone
 * of DATETIME columns (UTC) and the sql_mode (strict). The session
 * settings go in MYSQL_INIT_COMMAND, so a connection either has them or
 * does not exist. LOAD DATA LOCAL is off: a hostile server could use it to
 * read our files.
 *
 * The password lives in a stack buffer only for the mysql_real_connect()
 * call and is wiped after it; no error path formats it.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "../conf.h"

#define DB_SESSION_INIT \
	"SET time_zone = '+00:00', " \
	"sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"

/*
 * The one classification of MariaDB and client errors. A row's values can
 * only be at fault through the few errors that judge a value against its
 * column or a constraint (an allow-list: an error we do not know is never
 * blamed on a row, so a new server-wide condition cannot make a writer
 * throw records away). Transient ones go away by themselves. Everything
 * else is the server's or the schema's state (privileges, a missing table
 * or column, a full disk, a read-only server): no row can fix it, retrying
 * later can.
 */
enum db_class db_classify(unsigned int e)
{
	switch (e) {
	case 0:
		return DB_OK;
	case CR_CONNECTION_ERROR: case CR_CONN_HOST_ERROR: case CR_IPSOCK_ERROR:
	case CR_UNKNOWN_HOST: case CR_SERVER_GONE_ERROR: case CR_SERVER_HANDSHAKE_ERR:
	case CR_SERVER_LOST: case CR_SERVER_LOST_EXTENDED:
	case CR_ERR_NET_READ: case CR_ERR_NET_WRITE:
	case ER_CON_COUNT_ERROR: case ER_OUT_OF_RESOURCES: case ER_SERVER_SHUTDOWN:
	case ER_NET_READ_ERROR: case ER_NET_READ_INTERRUPTED: case ER_NET_ERROR_ON_WRITE:
	case ER_NET_WRITE_INTERRUPTED: case ER_TOO_MANY_USER_CONNECTIONS:
	case ER_LOCK_WAIT_TIMEOUT: case ER_LOCK_DEADLOCK: case ER_QUERY_INTERRUPTED:
	case ER_CONNECTION_KILLED: case ER_READ_ONLY_MODE:
	case ER_OPTION_PREVENTS_STATEMENT:		/* 1290: read_only, a switchover */
	case ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION:
		return DB_TRANSIENT;
	case ER_BAD_NULL_ERROR: case ER_DUP_ENTRY: case ER_DUP_ENTRY_WITH_KEY_NAME:
	case ER_WARN_NULL_TO_NOTNULL: case ER_WARN_DATA_OUT_OF_RANGE: case WARN_DATA_TRUNCATED:
	case ER_TRUNCATED_WRONG_VALUE: case ER_INVALID_CHARACTER_STRING:
	case ER_DIVISION_BY_ZERO: case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
	case ER_DATA_TOO_LONG: case ER_WRONG_VALUE_FOR_TYPE: case ER_DATETIME_FUNCTION_OVERFLOW:
	case ER_WRONG_VALUE: case ER_DATA_OUT_OF_RANGE: case ER_CONSTRAINT_FAILED:
		return DB_ROW;
	default:
		return DB_SERVER;
	}
}

static bool db_transient(unsigned int e)
{
	return db_classify(e) == DB_TRANSIENT;
}

static int db_rc(unsigned int e)
{
	if (db_transient(e))
		return -EAGAIN;
	switch (e) {
	case ER_ACCESS_DENIED_ERROR: case ER_DBACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_NO_PASSWORD_ERROR: case ER_HOST_NOT_PRIVILEGED:
	case ER_TABLEACCESS_DENIED_ERROR: case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR: case ER_PROCACCESS_DENIED_ERROR:
		return -EACCES;
	case ER_BAD_DB_ERROR:
		return -EINVAL;
	case CR_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int db_error(MYSQL *m, MYSQL_STMT *st, char *err, size_t errlen)
{
	unsigned int e = st ? mysql_stmt_errno(st) : mysql_errno(m);
	const char *state = st ? mysql_stmt_sqlstate(st) : mysql_sqlstate(m);
	const char *msg = st ? mysql_stmt_error(st) : mysql_error(m);

	if (!e) {
		snprintf(err, errlen, "MariaDB: unknown error");
		return -EIO;
	}
	snprintf(err, errlen, "MariaDB error %u (%s): %s", e, state, msg);
	return db_rc(e);
}

/*
 * First line of path into pw. The file must be a regular file with no
 * permission bits for others: a password anyone on the host can read is
 * refused rather than used (as ssh refuses a private key).
 */
static int read_password_file(const char *path, char *pw, size_t pwlen,
			      char *err, size_t errlen)
{
	char buf[DB_PASSWORD_MAX + 2];
	struct stat st;
	ssize_t n = 0;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "[db] password_file %s: %s", path, strerror(errno));
		return rc == -ENOENT ? -EINVAL : -EACCES;	/* missing: a setting is wrong */
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "[db] password_file %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "[db] password_file %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & 007) {
		snprintf(err, errlen, "[db] password_file %s: readable by others (mode %04o); "
			 "refusing it: chmod o-rwx it", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EACCES;
	}
	while (got < sizeof(buf) - 1 &&
	       ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "[db] password_file %s: %s", path, strerror(errno));
	}
	close(fd);
	if (rc < 0)
		goto out;
	buf[got] = '\0';
	size_t len = strcspn(buf, "\n");
	if (len == got && got > DB_PASSWORD_MAX) {
		snprintf(err, errlen, "[db] password_file %s: first line longer than %d bytes",
			 path, DB_PASSWORD_MAX);
		rc = -EINVAL;
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len >= pwlen) {
		snprintf(err, errlen, "[db] password_file %s: password too long", path);
		rc = -EINVAL;
		goto out;
	}
	memcpy(pw, buf, len);
	pw[len] = '\0';
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* The password to use: *have false for none. */
static int get_password(const struct conf *c, char *pw, size_t pwlen, bool *have,
			char *err, size_t errlen)
{
	const char *env;

	*have = false;
	if (c->db_password_file[0]) {
		int rc = read_password_file(c->db_password_file, pw, pwlen, err, errlen);
		if (rc < 0)
			return rc;
		*have = true;
		return 0;
	}
	if ((env = getenv("VAGENT_DB_PASSWORD")) != NULL) {
		if (strlen(env) >= pwlen) {
			snprintf(err, errlen, "VAGENT_DB_PASSWORD: longer than %zu bytes", pwlen - 1);
			return -EINVAL;
		}
		snprintf(pw, pwlen, "%s", env);
		*have = true;
	}
	return 0;
}

static int set_options(MYSQL *m, const struct conf *c, int io_timeout_s)
{
	unsigned int connect_s = (unsigned int)c->db_connect_timeout;
	unsigned int io_s = (unsigned int)io_timeout_s;
	unsigned int proto = c->db_host[0] ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
	my_bool off = 0;
	unsigned int no_infile = 0;

	if (mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s) ||
	    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off) ||
	    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no_infile) ||
	    mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &proto) ||
	    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
	    mysql_optionsv(m, MYSQL_INIT_COMMAND, DB_SESSION_INIT))
		return -EINVAL;
	if (io_timeout_s > 0 &&
	    (mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_s) ||
	     mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_s)))
		return -EINVAL;
	return 0;
}

int db_connect_timeout(const struct conf *c, int io_timeout_s, MYSQL **out,
		       char *err, size_t errlen)
{
	char pw[DB_PASSWORD_MAX + 1], where[PATH_MAX + 300], why[512];
	bool have_pw;
	MYSQL *m;
	int rc;

	*out = NULL;
	if (c->db_host[0])
		snprintf(where, sizeof(where), "%s port %d", c->db_host, c->db_port);
	else
		snprintf(where, sizeof(where), "socket %s",
			 c->db_socket[0] ? c->db_socket : "(default)");
	rc = get_password(c, pw, sizeof(pw), &have_pw, err, errlen);
	if (rc < 0)
		return rc;
	if (!(m = mysql_init(NULL))) {
		explicit_bzero(pw, sizeof(pw));
		snprintf(err, errlen, "MariaDB: out of memory");
		return -ENOMEM;
	}
	if (set_options(m, c, io_timeout_s) < 0) {
		explicit_bzero(pw, sizeof(pw));
		rc = db_error(m, NULL, why, sizeof(why));
		snprintf(err, errlen, "MariaDB client options: %s", why);
		mysql_close(m);
		return rc < 0 ? rc : -EINVAL;
	}
	MYSQL *ok = mysql_real_connect(m, c->db_host[0] ? c->db_host : "localhost",
				       c->db_user[0] ? c->db_user : NULL,
				       have_pw ? pw : NULL,
				       c->db_name[0] ? c->db_name : NULL,
				       c->db_host[0] ? (unsigned int)c->db_port : 0,
				       !c->db_host[0] && c->db_socket[0] ? c->db_socket : NULL, 0);
	explicit_bzero(pw, sizeof(pw));
	if (!ok) {
		rc = db_error(m, NULL, why, sizeof(why));
		snprintf(err, errlen, "cannot connect to MariaDB at %s as %s, database %s: %s",
			 where, c->db_user[0] ? c->db_user : "(default user)",
			 c->db_name[0] ? c->db_name : "(none)", why);
		mysql_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

int db_connect(const struct conf *c, MYSQL **out, char *err, size_t errlen)
{
	return db_connect_timeout(c, DB_IO_TIMEOUT_S, out, err, errlen);
}

void db_close(MYSQL *m)
{
	if (m)
		mysql_close(m);
}

int db_exec(MYSQL *m, const char *sql, char *err, size_t errlen)
{
	MYSQL_RES *res;
	int more;

	if (mysql_real_query(m, sql, strlen(sql)))
		return db_error(m, NULL, err, errlen);
	/* Rows, if any, are discarded; with CLIENT_MULTI_STATEMENTS all results are. */
	do {
		if ((res = mysql_store_result(m)) != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(m) != 0)
			return db_error(m, NULL, err, errlen);
		more = mysql_next_result(m);
		if (more > 0)
			return db_error(m, NULL, err, errlen);
	} while (more == 0);
	return 0;
}

int db_prepare(MYSQL *m, const char *sql, MYSQL_STMT **out, char *err, size_t errlen)
{
	MYSQL_STMT *st;
	int rc;

	*out = NULL;
	if (!(st = mysql_stmt_init(m))) {
		snprintf(err, errlen, "MariaDB: out of memory");
		return -ENOMEM;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		rc = db_error(m, st, err, errlen);
		mysql_stmt_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void db_stmt_close(MYSQL_STMT *st)
{
	if (st)
		mysql_stmt_close(st);
}
