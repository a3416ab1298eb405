/*
 * ctl_db.h - vagentctl db: schema migrations for MariaDB.
 *
 * Owns: `vagentctl db migrate [-s SQL_DIR]` and `vagentctl db status`.
 * Must never: change the database in status, record a migration whose
 * statements did not all succeed, or print the password.
 * Fails with a line on stderr naming the file, the line and MariaDB's error.
 */
#ifndef VG_CTL_DB_H
#define VG_CTL_DB_H

struct conf;

/*
 * argv holds the words after "db": argv[0] is "migrate" or "status", then
 * its options. Connects with c's [db] settings. Returns the process exit
 * status, as vagentctl's other commands: 0 done, 1 failed, 2 usage.
 */
int ctl_db(const struct conf *c, int argc, char **argv);

#endif
