/*
 * Append-only line files (the TSV logs, events.json) and the writer dispatch.
 *
 * A line is handed to the kernel with one write(2) on an O_APPEND
 * descriptor, so nothing we write can interleave with another writer's line
 * or be left half-written by a crash of ours; a short write (the disk is
 * full) is cut back off the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"

/* One write; a short one is taken back so no reader ever sees half a line. */
static int write_whole(int fd, const char *buf, size_t len)
{
	ssize_t n;
	off_t end;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n == len)
		return 0;
	/* O_APPEND: the offset is the end of what we just wrote */
	end = lseek(fd, 0, SEEK_CUR);
	if (end < n || ftruncate(fd, end - n) < 0)
		errno = EIO;
	else
		errno = ENOSPC;
	return -1;
}

static int open_fd(struct ws_logfile *f, char *err, size_t errlen)
{
	struct stat st;
	int fd = openat(f->dirfd, f->name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0644);

	if (fd < 0) {
		snprintf(err, errlen, "%s: open: %s", f->name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", f->name);
		close(fd);
		return -1;
	}
	if (st.st_size == 0 && f->header) {
		size_t hl = strlen(f->header);
		char *line = malloc(hl + 1);
		int rc;

		if (!line) {
			snprintf(err, errlen, "%s: header: out of memory", f->name);
			close(fd);
			return -1;
		}
		memcpy(line, f->header, hl);
		line[hl] = '\n';
		rc = write_whole(fd, line, hl + 1);
		free(line);
		if (rc < 0) {
			snprintf(err, errlen, "%s: write header: %s", f->name, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int ws_logfile_open(struct ws_logfile *f, int dirfd, const char *name, const char *header,
		    char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->dirfd = dirfd;
	f->header = header;
	if (!name[0] || strlen(name) >= sizeof(f->name) || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, errlen, "%s: log name must be a plain file name", name);
		return -1;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->fd = open_fd(f, err, errlen);
	return f->fd < 0 ? -1 : 0;
}

int ws_logfile_reopen(struct ws_logfile *f, char *err, size_t errlen)
{
	int fd = open_fd(f, err, errlen);

	if (fd < 0)
		return -1;	/* keep the old file rather than lose lines */
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	return 0;
}

int ws_logfile_append(struct ws_logfile *f, const char *line, size_t len)
{
	char err[320];
	struct stat st;

	/* deleted under us (lines would vanish with the inode): start the file again */
	if (f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_nlink == 0 &&
	    ws_logfile_reopen(f, err, sizeof(err)) < 0)
		fprintf(stderr, "wormsnare: %s\n", err);
	if (f->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return write_whole(f->fd, line, len);
}

void ws_logfile_close(struct ws_logfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* --------------------------------------------------------- log writers */

static int logwriter_reopen(struct ws_writer *w)
{
	struct ws_logwriter *lw = (struct ws_logwriter *)w;
	char err[320];

	if (ws_logfile_reopen(&lw->log, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s\n", err);
		return -1;
	}
	return 0;
}

static void logwriter_close(struct ws_writer *w)
{
	struct ws_logwriter *lw = (struct ws_logwriter *)w;

	ws_logfile_close(&lw->log);
	free(lw);
}

struct ws_logwriter *ws_logwriter_new(size_t size, int dirfd, const char *name,
				      const char *header, char *err, size_t errlen)
{
	struct ws_logwriter *lw = size >= sizeof(*lw) ? calloc(1, size) : NULL;

	if (!lw) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	if (ws_logfile_open(&lw->log, dirfd, name, header, err, errlen) < 0) {
		free(lw);
		return NULL;
	}
	lw->w.reopen = logwriter_reopen;
	lw->w.close = logwriter_close;
	return lw;
}

int ws_logwriter_put(struct ws_logwriter *lw, const char *line, size_t len)
{
	int rc = ws_logfile_append(&lw->log, line, len);

	if (rc < 0)
		lw->w.dropped++;
	return rc;
}

/* ------------------------------------------------------------- dispatch */

int ws_write_command(struct ws_writer *w, const struct ws_cmd_record *r)
{
	return w->command ? w->command(w, r) : 0;
}

int ws_write_file(struct ws_writer *w, const struct ws_file_record *r)
{
	return w->file ? w->file(w, r) : 0;
}

int ws_write_warning(struct ws_writer *w, const struct ws_warn_record *r)
{
	return w->warning ? w->warning(w, r) : 0;
}

int ws_writer_reopen(struct ws_writer *w)
{
	return w->reopen ? w->reopen(w) : 0;
}

int ws_writer_flush(struct ws_writer *w)
{
	return w->flush ? w->flush(w) : 0;
}

void ws_writer_close(struct ws_writer *w)
{
	if (w)
		w->close(w);
}

struct ws_bytes ws_bytes_str(const char *s)
{
	struct ws_bytes b = {s ? s : "", s ? strlen(s) : 0};

	return b;
}
