/*
 * Known samples: a YAML mapping of MD5 or SHA-256 (hex) to a name.
 *
 *   5ae700c1dffb00cef492844a4db6cd69: "W32/Blaster.A msblast.exe"
 *
 * Same rules as the main config: no aliases, no duplicate keys, every
 * mistake reported as FILE:LINE:COL.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"

#define KNOWN_FILE_MAX (4 << 20)
#define KNOWN_NAME_MAX 128

struct ws_known_entry {
	char hash[65];		/* lower-case hex, 32 or 64 digits */
	char name[KNOWN_NAME_MAX];
};

struct ws_known {
	size_t n, cap;
	struct ws_known_entry *e;
};

static bool is_hash(const char *s)
{
	size_t n = strlen(s);

	if (n != 32 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int add_entry(struct ws_known *k, const char *hash, const char *name)
{
	struct ws_known_entry *e;

	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->e[i].hash, hash) == 0)
			return 1;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		void *p = realloc(k->e, cap * sizeof(*k->e));

		if (!p)
			return -1;
		k->e = p;
		k->cap = cap;
	}
	e = &k->e[k->n++];
	for (size_t i = 0; hash[i]; i++)
		e->hash[i] = (char)tolower((unsigned char)hash[i]);
	e->hash[strlen(hash)] = '\0';
	snprintf(e->name, sizeof(e->name), "%s", name);
	return 0;
}

static int fail(char *err, size_t errlen, const char *path, const yaml_mark_t *m,
		const char *what)
{
	if (m)
		snprintf(err, errlen, "%s:%zu:%zu: %s", path, m->line + 1, m->column + 1, what);
	else
		snprintf(err, errlen, "%s: %s", path, what);
	return -1;
}

/* Walk the event stream: one document, one flat mapping of scalar to scalar. */
static int parse_known(yaml_parser_t *y, struct ws_known *k, const char *path, char *err,
		       size_t errlen)
{
	yaml_event_t ev;
	char key[80] = "";
	yaml_mark_t keymark = {0};
	int depth = 0, rc = -1;
	bool have_key = false, done = false;

	while (!done) {
		if (!yaml_parser_parse(y, &ev)) {
			char what[256];

			snprintf(what, sizeof(what), "YAML error: %s",
				 y->problem ? y->problem : "unknown");
			return fail(err, errlen, path, &y->problem_mark, what);
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			rc = 0;
			break;
		case YAML_ALIAS_EVENT:
			fail(err, errlen, path, &ev.start_mark, "aliases are not allowed");
			goto out;
		case YAML_MAPPING_START_EVENT:
			if (++depth > 1) {
				fail(err, errlen, path, &ev.start_mark,
				     "expected HASH: NAME, found a mapping");
				goto out;
			}
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			fail(err, errlen, path, &ev.start_mark, "expected HASH: NAME, found a list");
			goto out;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;

			if (depth != 1) {
				if (ev.data.scalar.length == 0)
					break;	/* an empty document */
				fail(err, errlen, path, &ev.start_mark, "top level must be a mapping");
				goto out;
			}
			if (!have_key) {
				if (!is_hash(v)) {
					fail(err, errlen, path, &ev.start_mark,
					     "key must be an MD5 (32 hex digits) or SHA-256 (64)");
					goto out;
				}
				snprintf(key, sizeof(key), "%s", v);
				keymark = ev.start_mark;
				have_key = true;
				break;
			}
			if (ev.data.scalar.length == 0 || ev.data.scalar.length >= KNOWN_NAME_MAX ||
			    !printable(v)) {
				fail(err, errlen, path, &ev.start_mark,
				     "name must be 1..127 printable characters");
				goto out;
			}
			switch (add_entry(k, key, v)) {
			case 1:
				fail(err, errlen, path, &keymark, "duplicate key");
				goto out;
			case -1:
				fail(err, errlen, path, NULL, "out of memory");
				goto out;
			}
			have_key = false;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
		continue;
out:
		yaml_event_delete(&ev);
		return -1;
	}
	yaml_event_delete(&ev);
	return rc;
}

int ws_known_load(const char *path, struct ws_known **out, char *err, size_t errlen)
{
	struct ws_known *k = calloc(1, sizeof(*k));
	yaml_parser_t y;
	struct stat st;
	FILE *f;
	int rc;

	*out = NULL;
	if (!k)
		return fail(err, errlen, path, NULL, "out of memory");
	if (!path || !path[0]) {
		*out = k;
		return 0;
	}
	f = fopen(path, "rb");
	if (!f) {
		free(k);
		return fail(err, errlen, path, NULL, strerror(errno));
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KNOWN_FILE_MAX) {
		fclose(f);
		free(k);
		return fail(err, errlen, path, NULL, "not a regular file of at most 4 MiB");
	}
	yaml_parser_initialize(&y);
	yaml_parser_set_input_file(&y, f);
	rc = parse_known(&y, k, path, err, errlen);
	yaml_parser_delete(&y);
	fclose(f);
	if (rc < 0) {
		ws_known_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

const char *ws_known_lookup(const struct ws_known *k, const char *md5_hex, const char *sha256_hex)
{
	if (!k)
		return NULL;
	for (size_t i = 0; i < k->n; i++)
		if ((md5_hex && strcasecmp(k->e[i].hash, md5_hex) == 0) ||
		    (sha256_hex && strcasecmp(k->e[i].hash, sha256_hex) == 0))
			return k->e[i].name;
	return NULL;
}

size_t ws_known_count(const struct ws_known *k)
{
	return k ? k->n : 0;
}

void ws_known_free(struct ws_known *k)
{
	if (!k)
		return;
	free(k->e);
	free(k);
}
