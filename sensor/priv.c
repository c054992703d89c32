/*
 * Privilege drop, in OpenBSD's order: chroot, chdir, setgroups, setresgid,
 * setresuid, then prove root is gone. One message per step.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor.h"

static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
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
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int ws_drop_privs(const char *user, const char *chroot_dir, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (lookup_user(user, &uid, &gid, err, errlen) < 0)
		return -1;
	if (chroot_dir && chroot(chroot_dir) < 0) {
		snprintf(err, errlen, "chroot %s: %s", chroot_dir, strerror(errno));
		return -1;
	}
	if (chroot_dir && chdir("/") < 0) {
		snprintf(err, errlen, "chdir /: %s", strerror(errno));
		return -1;
	}
	if (setgroups(1, &gid) < 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(err, errlen, "setresgid %u: %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(err, errlen, "setresuid %u: %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "root could be regained after dropping to %s", user);
		return -1;
	}
	return 0;
}

int ws_give_to_user(const char *user, int fd, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (lookup_user(user, &uid, &gid, err, errlen) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (st.st_uid == uid)
		return 0;
	if (fchown(fd, uid, gid) < 0) {
		snprintf(err, errlen, "chown to %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}
