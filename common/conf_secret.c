/*
 * conf_secret.c - API keys and tokens: where they are read from and
 * where they are kept.
 *
 * Owns: the pages of struct conf_secrets and the one way a secret is read
 * (the first line of a key file, else an environment variable).
 * Secrets live on their own pages, marked MADV_DONTDUMP, so a worker's
 * core dump never carries an API key; they are wiped before the pages go
 * back.
 * Never: reads a key file that others may read; an operator who left one
 * world-readable learns so at load instead of leaking it.
 * Fails with -EACCES and err naming the key and the file.
 */
#include "conf_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SECRETS_LEN ((sizeof(struct conf_secrets) + 4095) & ~(size_t)4095)

struct conf_secrets *conf_secrets_new(void)
{
	void *p = mmap(NULL, SECRETS_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, SECRETS_LEN, MADV_DONTDUMP);
	return p;
}

void conf_secrets_free(struct conf_secrets *s)
{
	if (!s)
		return;
	explicit_bzero(s, sizeof(*s));
	munmap(s, SECRETS_LEN);
}

int conf_read_secret(const char *file, const char *env, char *out, size_t len,
		     const char *what, char *err, size_t errlen)
{
	struct stat st;

	out[0] = '\0';
	if (!file[0]) {
		const char *v = getenv(env);
		if (v && strlen(v) < len)
			memcpy(out, v, strlen(v) + 1);
		return 0;
	}
	FILE *fp = fopen(file, "r");
	if (!fp || fstat(fileno(fp), &st) < 0) {
		snprintf(err, errlen, "%s: %s: %s", what, file, strerror(errno));
		if (fp)
			fclose(fp);
		return -EACCES;
	}
	if (st.st_mode & 007) {
		fclose(fp);
		snprintf(err, errlen, "%s: %s is readable by others (chmod 0640)", what, file);
		return -EACCES;
	}
	if (!fgets(out, (int)len, fp))
		out[0] = '\0';
	fclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}
