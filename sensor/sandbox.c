/*
 * Privilege separation and sandboxing, in OpenBSD's order: chroot, chdir,
 * setgroups, setresgid, setresuid, then prove root is gone; capabilities
 * cleared; no_new_privs; then a seccomp allow-list for the process's role.
 * One message per step that fails.
 *
 * Seccomp filters are inherited across fork and exec, so the monitor's list
 * also covers what a fetcher needs from fork until its own, stricter, list
 * is in place (the fetcher runs under both).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "sensor.h"

/* Unused ids tried, in order, for the fetcher when its user does not exist. */
#define FALLBACK_FETCH_ID_FIRST 65533u
#define FALLBACK_FETCH_ID_LAST 65500u

void ws_set_proc_name(const char *name)
{
	prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

static int lookup_user(const char *user, struct ws_ids *ids, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user %s: %s", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user %s: has uid 0, refusing to run as root", user);
		return -1;
	}
	ids->uid = pw->pw_uid;
	ids->gid = pw->pw_gid;
	snprintf(ids->name, sizeof(ids->name), "%s", user);
	return 0;
}

/* An id with no user and no group of that number: nobody else's files. */
static int unused_ids(struct ws_ids *ids, char *err, size_t errlen)
{
	for (unsigned id = FALLBACK_FETCH_ID_FIRST; id >= FALLBACK_FETCH_ID_LAST; id--) {
		if (getpwuid(id) || getgrgid(id))
			continue;
		ids->uid = id;
		ids->gid = id;
		snprintf(ids->name, sizeof(ids->name), "uid %u", id);
		return 0;
	}
	snprintf(err, errlen, "no unused uid in %u..%u for the fetcher", FALLBACK_FETCH_ID_LAST,
		 FALLBACK_FETCH_ID_FIRST);
	return -1;
}

/*
 * The configured users; when a default one does not exist (nothing was set
 * up on this machine), the sensor runs as nobody and the fetcher under an
 * unused uid/gid, so the two still differ. A user named in the config must
 * exist.
 */
int ws_resolve_users(const struct ws_config *cfg, struct ws_ids *sensor, struct ws_ids *fetcher,
		     char *err, size_t errlen)
{
	char why[256];

	if (lookup_user(cfg->privsep.user, sensor, why, sizeof(why)) < 0) {
		if (strcmp(cfg->privsep.user, WS_DEFAULT_SENSOR_USER) != 0 ||
		    lookup_user("nobody", sensor, err, errlen) < 0) {
			snprintf(err, errlen, "privsep.user: %s", why);
			return -1;
		}
	}
	if (lookup_user(cfg->fetch.user, fetcher, why, sizeof(why)) < 0) {
		if (strcmp(cfg->fetch.user, WS_DEFAULT_FETCH_USER) != 0) {
			snprintf(err, errlen, "fetch.user: %s", why);
			return -1;
		}
		if (unused_ids(fetcher, err, errlen) < 0)
			return -1;
	}
	if (sensor->uid == fetcher->uid) {
		snprintf(err, errlen, "privsep.user and fetch.user are both %s: they must differ",
			 sensor->name);
		return -1;
	}
	return 0;
}

/* Clear every capability, the ambient set included. */
static int drop_all_caps(char *err, size_t errlen)
{
	cap_t none = cap_init();
	int rc;

	if (!none) {
		snprintf(err, errlen, "cap_init: %s", strerror(errno));
		return -1;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	rc = cap_set_proc(none);
	cap_free(none);
	if (rc < 0) {
		snprintf(err, errlen, "cap_set_proc: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Is v in our effective set? Root without capabilities (SECBIT_NOROOT) counts as not. */
static bool have_cap(cap_value_t v)
{
	cap_t c = cap_get_proc();
	cap_flag_value_t on = CAP_CLEAR;

	if (c) {
		cap_get_flag(c, v, CAP_EFFECTIVE, &on);
		cap_free(c);
	}
	return on == CAP_SET;
}

bool ws_can_switch_users(void)
{
	return have_cap(CAP_SETUID) && have_cap(CAP_SETGID);
}

bool ws_can_chroot(void)
{
	return have_cap(CAP_SYS_CHROOT);
}

/*
 * Root, or an unprivileged user holding CAP_SETUID/CAP_SETGID (systemd's
 * AmbientCapabilities): switch to ids for good. Otherwise we stay who we
 * are. Either way every capability goes, and only then is it checked that
 * root (uid 0 or the old uid) cannot be regained: a non-root switch keeps
 * capabilities until they are cleared explicitly.
 */
int ws_drop_privs(const struct ws_ids *ids, const char *chroot_dir, char *err, size_t errlen)
{
	if (!ws_can_switch_users())
		return drop_all_caps(err, errlen);
	if (chroot_dir && ws_can_chroot() && chroot(chroot_dir) < 0) {
		snprintf(err, errlen, "chroot %s: %s", chroot_dir, strerror(errno));
		return -1;
	}
	if (chroot_dir && ws_can_chroot() && chdir("/") < 0) {
		snprintf(err, errlen, "chdir /: %s", strerror(errno));
		return -1;
	}
	if (setgroups(1, &ids->gid) < 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(ids->gid, ids->gid, ids->gid) < 0) {
		snprintf(err, errlen, "setresgid %u: %s", (unsigned)ids->gid, strerror(errno));
		return -1;
	}
	if (setresuid(ids->uid, ids->uid, ids->uid) < 0) {
		snprintf(err, errlen, "setresuid %u: %s", (unsigned)ids->uid, strerror(errno));
		return -1;
	}
	if (drop_all_caps(err, errlen) < 0)
		return -1;
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "root could be regained after dropping to %s", ids->name);
		return -1;
	}
	return 0;
}

int ws_give_to(const struct ws_ids *ids, int fd, char *err, size_t errlen)
{
	struct stat st;

	if (!have_cap(CAP_CHOWN))
		return 0;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (st.st_uid == ids->uid && st.st_gid == ids->gid)
		return 0;
	if (fchown(fd, ids->uid, ids->gid) < 0) {
		snprintf(err, errlen, "chown to %s: %s", ids->name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The monitor keeps only what spawning a fetcher under another uid needs,
 * and shrinks the bounding set so the fetcher it executes (as uid 0, before
 * it drops) can never hold more.
 */
/*
 * The monitor keeps what starting a fetcher under another uid needs, and
 * shrinks the bounding set so the fetcher it executes can never hold more.
 * Root's exec grants them again by itself; an unprivileged monitor (systemd
 * AmbientCapabilities) must put them in its ambient set for the fetcher to
 * receive them across execve; the fetcher clears everything once it has
 * switched. Nothing is kept that we do not hold already.
 */
int ws_monitor_caps(bool chown_back, char *err, size_t errlen)
{
	static const cap_value_t wanted[] = {CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT, CAP_KILL,
					     CAP_CHOWN};
	cap_value_t keep[5];
	int nwanted = chown_back ? 5 : 4, nkeep = 0, rc;
	bool root = geteuid() == 0;
	cap_t c;

	for (int i = 0; i < nwanted; i++)
		if (have_cap(wanted[i]))
			keep[nkeep++] = wanted[i];
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		bool kept = false;

		for (int i = 0; i < nkeep; i++)
			kept |= keep[i] == v;
		if (!kept && prctl(PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL &&
		    errno != EPERM) {
			snprintf(err, errlen, "drop bounding capability %d: %s", (int)v, strerror(errno));
			return -1;
		}
	}
	c = cap_init();
	if (!c) {
		snprintf(err, errlen, "cap_init: %s", strerror(errno));
		return -1;
	}
	if (nkeep > 0) {
		cap_set_flag(c, CAP_PERMITTED, nkeep, keep, CAP_SET);
		cap_set_flag(c, CAP_EFFECTIVE, nkeep, keep, CAP_SET);
		if (!root)
			cap_set_flag(c, CAP_INHERITABLE, nkeep, keep, CAP_SET);
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	rc = cap_set_proc(c);
	cap_free(c);
	if (rc < 0) {
		snprintf(err, errlen, "cap_set_proc: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < nkeep && !root; i++)
		if (keep[i] != CAP_KILL && keep[i] != CAP_CHOWN &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[i], 0, 0) < 0) {
			snprintf(err, errlen, "ambient capability %d: %s", (int)keep[i], strerror(errno));
			return -1;
		}
	return 0;
}

int ws_sandbox_sensor(const struct ws_run *run, enum ws_role role, char *err, size_t errlen)
{
	const char *dir = ws_can_chroot() ? run->cfg.output.dir : NULL;

	if (ws_drop_privs(&run->sensor_ids, dir, err, errlen) < 0)
		return -1;
	if (run->cfg.privsep.seccomp && ws_seccomp_apply(role, err, errlen) < 0)
		return -1;
	return 0;
}
