/*
 * TSV logs: whole-row appends (escaping, times and the last EventID moved to
 * output/tsv.c).
 *
 * A row is built in memory and handed to the kernel with one write(2) on an
 * O_APPEND descriptor, so concurrent writers and crashes can never interleave
 * or tear rows written by us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor.h"

#define ROW_MAX 8192

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		/*
		 * O_APPEND files only come back short when the disk is full: take
		 * the piece back so no reader ever sees half a row.
		 */
		off_t end = lseek(fd, 0, SEEK_CUR);

		if (end >= n && ftruncate(fd, end - n) < 0)
			errno = EIO;
		else
			errno = ENOSPC;
		return -1;
	}
	return 0;
}

static int open_log(struct ws_tsv *t, char *err, size_t errlen)
{
	struct stat st;
	int fd = openat(t->dirfd, t->name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0644);

	if (fd < 0) {
		snprintf(err, errlen, "%s: open: %s", t->name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", t->name);
		close(fd);
		return -1;
	}
	if (st.st_size == 0 && t->header) {
		size_t hl = strlen(t->header);
		char *line = malloc(hl + 2);

		if (!line) {
			snprintf(err, errlen, "%s: out of memory", t->name);
			close(fd);
			return -1;
		}
		memcpy(line, t->header, hl);
		line[hl] = '\n';
		if (write_all(fd, line, hl + 1) < 0) {
			snprintf(err, errlen, "%s: write header: %s", t->name, strerror(errno));
			free(line);
			close(fd);
			return -1;
		}
		free(line);
	}
	t->fd = fd;
	return 0;
}

int ws_tsv_open(struct ws_tsv *t, int dirfd, const char *name, const char *header,
		char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->dirfd = dirfd;
	t->header = header;
	if (strlen(name) >= sizeof(t->name) || strchr(name, '/')) {
		snprintf(err, errlen, "%s: log name must be a plain file name", name);
		return -1;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	return open_log(t, err, errlen);
}

void ws_tsv_adopt(struct ws_tsv *t, int dirfd, const char *name, const char *header, int fd)
{
	memset(t, 0, sizeof(*t));
	t->dirfd = dirfd;
	t->fd = fd;
	t->header = header;
	snprintf(t->name, sizeof(t->name), "%s", name);
}

int ws_tsv_reopen(struct ws_tsv *t, char *err, size_t errlen)
{
	int old = t->fd;

	if (open_log(t, err, errlen) < 0) {
		t->fd = old;	/* keep writing to the old file rather than lose rows */
		return -1;
	}
	if (old >= 0)
		close(old);
	return 0;
}

int ws_tsv_row(struct ws_tsv *t, const char *const *fields, size_t n)
{
	char row[ROW_MAX], err[256];
	struct stat st;
	size_t o = 0;

	/* deleted under us (rows would vanish with the inode): start the file again */
	if (fstat(t->fd, &st) == 0 && st.st_nlink == 0 && ws_tsv_reopen(t, err, sizeof(err)) < 0)
		fprintf(stderr, "wormsnare: %s\n", err);

	for (size_t i = 0; i < n; i++) {
		size_t fl = strlen(fields[i]);

		if (o + fl + 1 > sizeof(row)) {
			errno = EMSGSIZE;
			return -1;
		}
		memcpy(row + o, fields[i], fl);
		o += fl;
		row[o++] = i + 1 < n ? '\t' : '\n';
	}
	return write_all(t->fd, row, o);
}

void ws_tsv_close(struct ws_tsv *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
