/*
 * db.h - MariaDB connections for vagentctl, the booking-writer and the api.
 *
 * Owns: how a vagent process opens a MariaDB connection from the [db]
 * settings (host or socket, user, password from a file or the environment,
 * database, timeouts) and what every such connection is set to: utf8mb4,
 * time_zone '+00:00' (everything is stored in UTC), a strict sql_mode (a
 * value that does not fit is an error, not a silent truncation; no silent
 * engine substitution) and no auto-reconnect (a reconnect would silently
 * drop the session settings and any open transaction: callers notice the
 * error and reconnect themselves).
 *
 * Must never: log (it returns one line in err, and the caller logs it once),
 * or put the password in err, in a log line or anywhere but libmariadb.
 * No state of its own: a MYSQL handle belongs to one thread at a time.
 *
 * Fails with 0 or a negative errno and one line in err:
 *   -EAGAIN  transient: server unreachable, restarting, too many
 *            connections, lock wait/deadlock, connection lost. Retry later.
 *   -EACCES  access denied, or the password file is unreadable or readable
 *            by others. Retrying will not help.
 *   -EINVAL  a setting is wrong (unknown database, ...).
 *   -ENOMEM  out of memory.
 *   -EIO     anything else the server refused (a bad statement, a
 *            constraint: see db_errno()).
 *
 * libmariadb initialises itself in the first mysql_init(); make the first
 * db_connect() before other threads use libmariadb.
 */
#ifndef VG_DB_H
#define VG_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <mysql.h>

struct conf;

/* Read/write timeout of db_connect(): a server that stops answering. */
#define DB_IO_TIMEOUT_S 30

/* The longest password accepted from a password file. */
#define DB_PASSWORD_MAX 256

/*
 * Connects as [db] in c says. Host empty: the Unix socket db_socket (empty:
 * libmariadb's default); else TCP to host:port, even for "localhost".
 * Password: first line of db_password_file (refused if its mode has any
 * bit for others), else $VAGENT_DB_PASSWORD, else none.
 * Timeouts: connect db_connect_timeout, read/write DB_IO_TIMEOUT_S.
 * On success *out is a new connection (db_close); on failure *out is NULL.
 */
int db_connect(const struct conf *c, MYSQL **out, char *err, size_t errlen);

/*
 * As db_connect with another read/write timeout in seconds; 0 for none
 * (vagentctl db migrate: an ALTER of a large table may run for minutes).
 */
int db_connect_timeout(const struct conf *c, int io_timeout_s, MYSQL **out,
		       char *err, size_t errlen);

/* Closes m; NULL is fine. */
void db_close(MYSQL *m);

/*
 * Runs one statement that has no parameters (DDL, SET, a migration's
 * text) and discards any rows it returns. Never build sql from values:
 * statements with values go through db_prepare().
 */
int db_exec(MYSQL *m, const char *sql, char *err, size_t errlen);

/* Prepares sql on m. On success *out is a statement (db_stmt_close). */
int db_prepare(MYSQL *m, const char *sql, MYSQL_STMT **out, char *err, size_t errlen);

/* Closes st; NULL is fine. */
void db_stmt_close(MYSQL_STMT *st);

/*
 * The return code and err line for the last error on m (or on st, when
 * st is not NULL): "MariaDB error 1062 (23000): Duplicate entry ...".
 * For callers that call libmariadb directly (mysql_stmt_execute, ...).
 */
int db_error(MYSQL *m, MYSQL_STMT *st, char *err, size_t errlen);

/*
 * What a MariaDB/client error number says, for every caller that must
 * decide between retrying, refusing one row and waiting for an operator:
 *   DB_TRANSIENT  the connection, a lock, a restart, a read-only server
 *                 (1290, 1836: a switchover): retry later (-EAGAIN).
 *   DB_ROW        this row's values: too long, out of range, NULL, a
 *                 duplicate, a CHECK: the same row fails every time.
 *   DB_SERVER     anything else (privileges revoked, a table or column
 *                 missing, a disk full, an error we do not know): not the
 *                 row's fault; an operator must act; retrying later can work.
 */
enum db_class { DB_OK, DB_TRANSIENT, DB_ROW, DB_SERVER };
enum db_class db_classify(unsigned int mysql_errno);

#endif
