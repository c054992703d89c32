/*
 * Live capture on every core (capture.workers > 1). ws-sensor forks the
 * workers while it holds nothing but its socket to the monitor (closed in
 * each worker): a worker starts with stdio and its socket to the
 * supervisor, and opens its own PACKET_FANOUT member (the first one gets a
 * fresh group id from the kernel, the others join it). The supervisor never
 * holds a packet socket. Only when every worker has its capture open are
 * the outputs created, so a run that fails on its input leaves nothing
 * behind; then each worker opens the output directory (its carved files go
 * there), chroots into it as the sensor user and locks itself in its
 * seccomp list.
 *
 * The kernel splits frames by a hash of the IPv4 address pair, so a shell
 * session and the transfers between the same two hosts meet in one worker.
 * A GET naming a third host is sent to the other workers as a note, so
 * whichever sees its transfer names the file after the event.
 *
 * The supervisor numbers events (one sequence for the whole sensor), owns
 * the fetcher, the budgets and every log. Workers' messages are read as
 * wire data: a malformed one stops that worker. A worker that ends while
 * the sensor is not stopping stops the sensor (exit status 1): its share of
 * the traffic would otherwise go unwatched, or move between workers
 * mid-session as the fanout group shrinks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "sensor.h"

#define POOL_MAX 64

struct member {
	pid_t pid;
	int sock;		/* -1 once it closed */
};

struct pool {
	struct ws_run *run;
	struct ws_super *sup;
	unsigned n, open;
	struct member m[POOL_MAX];
	bool stopping;
	int rc;
	uint64_t notes_lost;
};

static struct ws_signals *sig;

/* ------------------------------------------------------------------ start */

/* In the new worker: its fanout member, said to the supervisor. */
static struct ws_capture *open_member(const struct pool *p, int sock, unsigned group)
{
	const struct ws_config *cfg = &p->run->cfg;
	char err[1024] = "";
	uint8_t buf[1200];
	struct ws_capture *cap;

	cap = ws_capture_open_live_fanout(p->run->opt.iface, cfg, &group, p->n, err, sizeof(err));
	if (cap && ws_capture_set_filter(cap, cfg, cfg->carve.enabled, err, sizeof(err)) < 0) {
		ws_capture_close(cap);
		cap = NULL;
	}
	if (!cap && !err[0])
		snprintf(err, sizeof(err), "%s: cannot open the capture", p->run->opt.iface);
	send(sock, buf, ws_relay_ready_encode(group, cap ? "" : err, buf, sizeof(buf)),
	     MSG_NOSIGNAL);
	return cap;
}

/* In the new worker: wait for the supervisor's word, then the output directory. */
static int await_start(struct ws_run *run, int sock)
{
	uint8_t buf[16];
	ssize_t n;

	do
		n = recv(sock, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || ws_msg_type(buf, (size_t)n) != WS_RELAY_START)
		_exit(1);	/* the supervisor failed to start and says why */
	return open(run->cfg.output.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static __attribute__((noreturn)) void worker_child(struct pool *p, unsigned i, int sock,
						   pid_t parent, int ctl, unsigned group)
{
	struct ws_worker_start start = {NULL, sock, -1, i, p->n};

	ws_set_proc_name("ws-worker");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	close(ctl);
	for (unsigned j = 0; j < i; j++)
		close(p->m[j].sock);
	start.cap = open_member(p, sock, group);
	if (!start.cap)
		_exit(1);
	start.dirfd = await_start(p->run, sock);
	if (start.dirfd < 0) {
		fprintf(stderr, "wormsnare: worker %u/%u: %s: %s\n", i + 1, p->n,
			p->run->cfg.output.dir, strerror(errno));
		_exit(1);
	}
	ws_worker_main(p->run, &start);
}

/* The new worker's capture: the group it joined, or -1 with its error. */
static int member_ready(struct pool *p, unsigned i, unsigned *group, char *err, size_t errlen)
{
	uint8_t buf[1200];
	ssize_t n;

	do
		n = recv(p->m[i].sock, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || ws_relay_ready_decode(buf, (size_t)n, group, err, errlen) < 0) {
		snprintf(err, errlen, "worker %u/%u did not start", i + 1, p->n);
		return -1;
	}
	return err[0] ? -1 : 0;
}

static int fork_members(struct pool *p, int ctl, char *err, size_t errlen)
{
	pid_t self = getpid();
	unsigned group = 0;	/* the first member gets a fresh id from the kernel */

	for (unsigned i = 0; i < p->n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			snprintf(err, errlen, "socketpair: %s", strerror(errno));
			return -1;
		}
		fflush(NULL);
		p->m[i].pid = fork();
		if (p->m[i].pid < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		if (p->m[i].pid == 0) {
			close(sv[0]);
			worker_child(p, i, sv[1], self, ctl, group);
		}
		close(sv[1]);
		p->m[i].sock = sv[0];
		p->open++;
		if (member_ready(p, i, &group, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int start_members(struct pool *p)
{
	uint8_t buf[16];
	struct ws_wbuf w = ws_msg_begin(buf, sizeof(buf), WS_RELAY_START);
	size_t len = ws_msg_finish(&w);

	for (unsigned i = 0; i < p->n; i++)
		if (send(p->m[i].sock, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
			return -1;
	return 0;
}

/* ------------------------------------------------------------- messages */

static void stop_all(struct pool *p, int rc)
{
	if (rc)
		p->rc = rc;
	if (p->stopping)
		return;
	p->stopping = true;
	for (unsigned i = 0; i < p->n; i++)
		if (p->m[i].sock >= 0)
			kill(p->m[i].pid, SIGTERM);
}

/* The other workers carve for this GET too: its transfer may be with a third host. */
static void send_note(struct pool *p, unsigned from, uint64_t id, const struct ws_cmd_event *ev)
{
	struct ws_relay_note note = {
		.eventid = id,
		.proto = ev->action == WS_ACT_GET ? WS_CARVE_TFTP : WS_CARVE_FTP,
		.ts = ev->ts,
		.victim = ev->victim.addr,
		.attacker = ev->attacker.addr,
		.host = ev->host_addr,
		.port = ev->port,
	};
	uint8_t buf[WS_RELAY_MSG_MAX];
	size_t len;

	snprintf(note.file, sizeof(note.file), "%.*s", (int)ev->file_len, ev->file);
	len = ws_relay_note_encode(&note, buf, sizeof(buf));
	for (unsigned i = 0; i < p->n; i++) {
		if (i == from || p->m[i].sock < 0)
			continue;
		/* never blocks: a worker busy sending to us must not deadlock with us */
		if (!len || send(p->m[i].sock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
			p->notes_lost++;
	}
}

static int take_command(struct pool *p, unsigned i, const uint8_t *buf, size_t len)
{
	static struct ws_relay_cmd cmd;
	uint8_t reply[64];
	size_t rlen;
	uint64_t id;

	if (ws_relay_cmd_decode(buf, len, &cmd) < 0)
		return -1;
	id = ws_super_command(p->sup, &cmd.ev);
	rlen = ws_relay_id_encode(id, reply, sizeof(reply));
	/* the worker waits for this reply, reading: a blocking send completes */
	if (send(p->m[i].sock, reply, rlen, MSG_NOSIGNAL) != (ssize_t)rlen)
		return 0;	/* it is gone; its end of file comes next */
	if (cmd.ev.action == WS_ACT_GET || cmd.ev.action == WS_ACT_FTP_GET)
		send_note(p, i, id, &cmd.ev);
	return 0;
}

static int take_message(struct pool *p, unsigned i, const uint8_t *buf, size_t len)
{
	static struct ws_relay_file file;
	static struct ws_relay_warn warn;

	switch (ws_msg_type(buf, len)) {
	case WS_RELAY_CMD:
		return take_command(p, i, buf, len);
	case WS_RELAY_FILE:
		if (ws_relay_file_decode(buf, len, &file) < 0)
			return -1;
		ws_super_file(p->sup, &file.r);
		return 0;
	case WS_RELAY_WARN:
		if (ws_relay_warn_decode(buf, len, &warn) < 0)
			return -1;
		ws_super_warning(p->sup, &warn.r);
		return 0;
	default:
		return -1;
	}
}

/* How a worker ended, for the message when it was not asked to. */
static void reap(struct pool *p, unsigned i)
{
	int st = 0;
	pid_t pid;

	do
		pid = waitpid(p->m[i].pid, &st, 0);
	while (pid < 0 && errno == EINTR);
	/* a stop sent to the whole group (systemd, ^C) may reach a worker first */
	if (sig->stop)
		stop_all(p, 0);
	if (pid < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0 && p->stopping))
		return;
	if (WIFSIGNALED(st))
		fprintf(stderr, "wormsnare: worker %u/%u (pid %d) killed by signal %d (%s)\n", i + 1,
			p->n, (int)p->m[i].pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(stderr, "wormsnare: worker %u/%u (pid %d) exited with status %d%s\n", i + 1,
			p->n, (int)p->m[i].pid, WEXITSTATUS(st),
			p->stopping ? "" : " while capturing: stopping the sensor");
	stop_all(p, 1);
}

static void member_closed(struct pool *p, unsigned i)
{
	close(p->m[i].sock);
	p->m[i].sock = -1;
	p->open--;
	reap(p, i);
}

static void drain_member(struct pool *p, unsigned i)
{
	static uint8_t buf[WS_RELAY_MSG_MAX];

	while (p->m[i].sock >= 0) {
		ssize_t n = recv(p->m[i].sock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			member_closed(p, i);
			return;
		}
		if (take_message(p, i, buf, (size_t)n) < 0) {
			fprintf(stderr, "wormsnare: worker %u/%u sent a malformed message (type %#x, "
				"%zd bytes): stopping it\n", i + 1, p->n, ws_msg_type(buf, (size_t)n), n);
			kill(p->m[i].pid, SIGKILL);
			stop_all(p, 1);
		}
	}
}

/* ------------------------------------------------------------------ loop */

static void handle_flags(struct pool *p)
{
	if (sig->stop)
		stop_all(p, 0);
	if (sig->hup) {
		sig->hup = 0;
		ws_super_reopen(p->sup);
	}
	if (sig->usr1) {
		sig->usr1 = 0;
		ws_print_pool_stats(ws_super_stats(p->sup), "running", p->n);
		for (unsigned i = 0; i < p->n; i++)
			if (p->m[i].sock >= 0)
				kill(p->m[i].pid, SIGUSR1);
	}
	if (sig->usr2) {
		sig->usr2 = 0;
		ws_super_probe_fetcher(p->sup);
	}
}

static void supervise(struct pool *p)
{
	while (p->open > 0) {
		struct pollfd pfd[POOL_MAX + 2];
		unsigned who[POOL_MAX];
		size_t k = 0;

		for (unsigned i = 0; i < p->n; i++)
			if (p->m[i].sock >= 0) {
				who[k] = i;
				pfd[k++] = (struct pollfd){p->m[i].sock, POLLIN, 0};
			}
		size_t nw = k;

		k += ws_super_pollfds(p->sup, pfd + k, 2);
		if (poll(pfd, k, 200) < 0 && errno != EINTR)
			break;
		for (size_t j = 0; j < nw; j++)
			if (pfd[j].revents)
				drain_member(p, who[j]);
		ws_super_poll(p->sup);
		handle_flags(p);
	}
}

static void cleanup(struct pool *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (p->m[i].sock >= 0) {
			close(p->m[i].sock);
			if (p->m[i].pid > 0) {
				kill(p->m[i].pid, SIGTERM);
				waitpid(p->m[i].pid, NULL, 0);
			}
		}
	}
}

static int pool_setup(struct pool *p, int ctl, char *err, size_t errlen)
{
	if (fork_members(p, ctl, err, errlen) < 0)
		return -1;
	p->sup = ws_super_open(p->run, ctl, err, errlen);
	if (!p->sup)
		return -1;
	sig = ws_signals_install(NULL);
	if (ws_sandbox_sensor(p->run, WS_ROLE_POOL, err, errlen) < 0)
		return -1;
	if (start_members(p) < 0) {
		snprintf(err, errlen, "starting the workers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int ws_pool_run(struct ws_run *run, int ctl, unsigned nworkers)
{
	static struct pool p;
	char err[1024];

	p.run = run;
	p.n = nworkers > POOL_MAX ? POOL_MAX : nworkers;
	for (unsigned i = 0; i < p.n; i++)
		p.m[i] = (struct member){0, -1};
	if (pool_setup(&p, ctl, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s\n", err);
		cleanup(&p);
		ws_super_close(p.sup);
		return 1;
	}
	if (run->opt.verbose) {
		fprintf(stderr, "wormsnare: capturing on %s with %u workers, output %s, fetch %s, "
			"users %s (sensor and workers) and %s (fetcher)\n", run->opt.iface, p.n,
			run->cfg.output.dir, run->fetch_on ? "on" : "off", run->sensor_ids.name,
			run->fetch_ids.name);
		ws_config_dump(&run->cfg, stderr, "wormsnare: setting ");
	}
	supervise(&p);
	ws_super_finish(p.sup, &sig->stop);
	ws_print_pool_stats(ws_super_stats(p.sup), sig->stop ? "stopped" : "done", p.n);
	if (p.notes_lost)
		fprintf(stderr, "wormsnare: notes to workers lost (a worker's queue was full): %llu\n",
			(unsigned long long)p.notes_lost);
	ws_super_close(p.sup);
	cleanup(&p);
	return p.rc;
}
