/*
 * ws-monitor: the process that never holds the capture. It forks the
 * capturing process (ws-sensor) before anything is opened, then keeps only
 * the capabilities needed to start fetchers under their own uid. Each
 * fetcher is re-executed from /proc/self/exe with nothing but its socket
 * (fd 3) and stderr, so it inherits no capture, no log, no memory.
 *
 * The monitor never blocks on a child: SIGCHLD is handled with
 * waitpid(WNOHANG) in the loop; fetcher starts are spaced by a backoff that
 * grows while fetchers die young.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sensor.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_MS 60000	/* a fetcher that lived this long resets the backoff */
#define STOP_GRACE_MS 5000

struct monitor {
	struct ws_run *run;
	int ctl;
	pid_t sensor, fetcher;
	int sensor_status;
	bool sensor_done, spawn_wanted;
	int64_t fetcher_born, next_spawn_ms;
	unsigned backoff_ms;
};

static volatile sig_atomic_t got_chld, fwd_term, fwd_hup, fwd_usr1, fwd_usr2, fwd_int;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	switch (sig) {
	case SIGCHLD: got_chld = 1; break;
	case SIGTERM: fwd_term = 1; break;
	case SIGHUP: fwd_hup = 1; break;
	case SIGUSR1: fwd_usr1 = 1; break;
	case SIGUSR2: fwd_usr2 = 1; break;
	case SIGINT:
		/* ^C reaches the sensor from the terminal itself; forward kill(1)'s only */
		if (si->si_code == SI_USER || si->si_code == SI_QUEUE)
			fwd_int = 1;
		break;
	}
}

static void install_handlers(sigset_t *blocked)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGINT};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(blocked);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(blocked, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, blocked, NULL);
}

/* Hand the sensor its end of a new fetcher's socketpair. */
static int send_fetcher(struct monitor *m, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	uint32_t msg[2] = {WS_CTL_FETCHER, (uint32_t)m->fetcher};
	struct iovec iov = {msg, sizeof(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof(cbuf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(m->ctl, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The child side: fd 3 is the socket, 0 and 1 are /dev/null, nothing else. */
static void exec_fetcher(struct monitor *m, int sock, int devnull)
{
	const struct ws_config *c = &m->run->cfg;
	char uid[16], gid[16], nums[10][24];
	char *envp[] = {NULL};
	char *argv[] = {"ws-fetcher", WS_FETCHER_CHILD_FLAG, m->run->samples_dir, uid, gid,
			nums[0], nums[1], nums[2], nums[3], nums[4], nums[5], nums[6], nums[7],
			nums[8], nums[9], NULL};

	snprintf(uid, sizeof(uid), "%u", (unsigned)m->run->fetch_ids.uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)m->run->fetch_ids.gid);
	snprintf(nums[0], sizeof(nums[0]), "%d", c->fetch.timeout);
	snprintf(nums[1], sizeof(nums[1]), "%d", c->fetch.retries);
	snprintf(nums[2], sizeof(nums[2]), "%d", c->fetch.blksize);
	snprintf(nums[3], sizeof(nums[3]), "%d", c->fetch.concurrency);
	snprintf(nums[4], sizeof(nums[4]), "%d", c->fetch.queue_size);
	snprintf(nums[5], sizeof(nums[5]), "%" PRId64, c->fetch.max_size);
	snprintf(nums[6], sizeof(nums[6]), "%d", c->privsep.seccomp);
	snprintf(nums[7], sizeof(nums[7]), "%d", c->fetch.ftp_timeout);
	snprintf(nums[8], sizeof(nums[8]), "%d", c->fetch.ftp_connect_timeout);
	snprintf(nums[9], sizeof(nums[9]), "%d", c->fetch.ftp_active_fallback);
	if (dup2(sock, 3) < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
		_exit(127);
	close_range(4, ~0u, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/proc/self/exe", argv, envp);
	fprintf(stderr, "wormsnare: monitor: execve /proc/self/exe: %s\n", strerror(errno));
	_exit(127);
}

static void spawn_fetcher(struct monitor *m)
{
	int sv[2], devnull;
	pid_t pid;

	m->spawn_wanted = false;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "wormsnare: monitor: socketpair: %s\n", strerror(errno));
		return;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid = fork();
	if (pid == 0)
		exec_fetcher(m, sv[1], devnull);
	if (devnull >= 0)
		close(devnull);
	close(sv[1]);
	if (pid < 0) {
		fprintf(stderr, "wormsnare: monitor: fork: %s\n", strerror(errno));
		close(sv[0]);
		return;
	}
	m->fetcher = pid;
	m->fetcher_born = ws_now_ms();
	if (send_fetcher(m, sv[0]) < 0)
		kill(pid, SIGTERM);	/* the sensor is gone; its SIGCHLD follows */
	close(sv[0]);
}

static const char *death_cause(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WTERMSIG(status) == SIGSYS)
		snprintf(buf, cap, "killed by SIGSYS: seccomp violation");
	else
		snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	return buf;
}

/* The backoff grows while fetchers die young and resets after a healthy one. */
static void fetcher_died(struct monitor *m, pid_t pid, int status)
{
	char why[96];
	int64_t lived = ws_now_ms() - m->fetcher_born;

	m->fetcher = 0;
	if (lived >= HEALTHY_MS)
		m->backoff_ms = BACKOFF_MIN_MS;
	else
		m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
	m->next_spawn_ms = ws_now_ms() + m->backoff_ms;
	if (!m->sensor_done && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fprintf(stderr, "wormsnare: ws-fetcher (pid %d) %s; next start in %u ms\n",
			(int)pid, death_cause(status, why, sizeof(why)), m->backoff_ms);
}

static void reap(struct monitor *m)
{
	pid_t pid;
	int status;

	got_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->sensor) {
			char why[96];

			m->sensor_done = true;
			m->sensor_status = status;
			if (WIFSIGNALED(status))
				fprintf(stderr, "wormsnare: ws-sensor (pid %d) %s\n", (int)pid,
					death_cause(status, why, sizeof(why)));
		} else if (pid == m->fetcher) {
			fetcher_died(m, pid, status);
		}
	}
}

static void forward_signals(struct monitor *m)
{
	if (fwd_term) { fwd_term = 0; kill(m->sensor, SIGTERM); }
	if (fwd_int) { fwd_int = 0; kill(m->sensor, SIGINT); }
	if (fwd_hup) { fwd_hup = 0; kill(m->sensor, SIGHUP); }
	if (fwd_usr1) { fwd_usr1 = 0; kill(m->sensor, SIGUSR1); }
	if (fwd_usr2) { fwd_usr2 = 0; kill(m->sensor, SIGUSR2); }
}

/* A request from the sensor; EOF means it is leaving. */
static void read_ctl(struct monitor *m)
{
	uint32_t msg[2];
	ssize_t n = recv(m->ctl, msg, sizeof(msg), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(m->ctl);
		m->ctl = -1;
		return;
	}
	if (n != (ssize_t)sizeof(uint32_t) || msg[0] != WS_CTL_SPAWN_FETCHER)
		return;
	/* the sensor gave up on the fetcher it had: that one goes, a fresh one follows */
	m->spawn_wanted = true;
	if (m->fetcher)
		kill(m->fetcher, SIGKILL);
}

/* After the sensor: the fetcher goes too, within a grace period. */
static void stop_fetcher(struct monitor *m)
{
	int64_t until = ws_now_ms() + STOP_GRACE_MS;
	int status;

	if (m->fetcher == 0)
		return;
	kill(m->fetcher, SIGTERM);
	while (ws_now_ms() < until) {
		if (waitpid(m->fetcher, &status, WNOHANG) == m->fetcher)
			return;
		usleep(10000);
	}
	kill(m->fetcher, SIGKILL);
	waitpid(m->fetcher, &status, 0);
}

/*
 * A replay run as root writes as the unprivileged users; when it is over,
 * its outputs go to whoever owns the directory they were written in, so the
 * person who ran it can use them. A live sensor's directory stays with the
 * sensor user, which keeps writing it.
 */
static bool hands_back(const struct ws_run *run)
{
	return run->opt.nread > 0 && geteuid() == 0;
}

static void chown_entries(int dirfd, uid_t uid, gid_t gid, int depth)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(dirfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		fchownat(dirfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (e->d_type == DT_DIR && depth > 0) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				chown_entries(sub, uid, gid, depth - 1);
				close(sub);
			}
		}
	}
	closedir(d);
}

static void hand_back_outputs(const struct ws_run *run)
{
	char parent[sizeof(run->cfg.output.dir) + 4];
	struct stat st;
	int fd;

	snprintf(parent, sizeof(parent), "%s/..", run->cfg.output.dir);
	if (stat(parent, &st) < 0)
		return;
	fd = open(run->cfg.output.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fchown(fd, st.st_uid, st.st_gid) == 0)
		chown_entries(fd, st.st_uid, st.st_gid, 1);
	close(fd);
}

static int monitor_loop(struct monitor *m)
{
	sigset_t wait_mask;

	sigemptyset(&wait_mask);
	while (!m->sensor_done) {
		struct pollfd pfd = {m->ctl, POLLIN, 0};
		int64_t wait = -1;
		struct timespec ts, *tp = NULL;

		if (m->spawn_wanted && m->fetcher == 0) {
			wait = m->next_spawn_ms - ws_now_ms();
			if (wait <= 0) {
				spawn_fetcher(m);
				continue;
			}
			ts.tv_sec = wait / 1000;
			ts.tv_nsec = (wait % 1000) * 1000000;
			tp = &ts;
		}
		if (ppoll(&pfd, m->ctl >= 0 ? 1 : 0, tp, &wait_mask) > 0 && (pfd.revents & POLLIN))
			read_ctl(m);
		else if (m->ctl >= 0 && (pfd.revents & (POLLHUP | POLLERR)))
			read_ctl(m);
		if (got_chld)
			reap(m);
		forward_signals(m);
	}
	stop_fetcher(m);
	if (hands_back(m->run))
		hand_back_outputs(m->run);
	if (WIFEXITED(m->sensor_status))
		return WEXITSTATUS(m->sensor_status);
	return 128 + WTERMSIG(m->sensor_status);
}

int ws_monitor_run(struct ws_run *run)
{
	struct monitor m = {.run = run, .ctl = -1};
	char err[256];
	sigset_t blocked;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "wormsnare: socketpair: %s\n", strerror(errno));
		return 1;
	}
	install_handlers(&blocked);
	fflush(stdout);
	fflush(stderr);
	m.sensor = fork();
	if (m.sensor < 0) {
		fprintf(stderr, "wormsnare: fork: %s\n", strerror(errno));
		return 1;
	}
	if (m.sensor == 0) {
		close(sv[0]);
		ws_set_proc_name("ws-sensor");
		sigprocmask(SIG_UNBLOCK, &blocked, NULL);
		signal(SIGCHLD, SIG_DFL);
		exit(ws_sensor_run(run, sv[1]));
	}
	close(sv[1]);
	m.ctl = sv[0];
	ws_set_proc_name("ws-monitor");
	if (ws_monitor_caps(hands_back(run), err, sizeof(err)) < 0 ||
	    (run->cfg.privsep.seccomp && ws_seccomp_apply(WS_ROLE_MONITOR, err, sizeof(err)) < 0)) {
		fprintf(stderr, "wormsnare: monitor: %s\n", err);
		kill(m.sensor, SIGTERM);
	}
	return monitor_loop(&m);
}
