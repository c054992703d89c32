/*
 * seccomp allow-lists, one per process role (libseccomp). Anything else
 * traps: the handler names the system call on stderr and the process dies
 * of SIGSYS, which its parent reports.
 *
 * Lists are the calls each role makes after set-up, found by reading the
 * code paths (libpcap's ring reader, the stream engine, the writers, the TFTP/FTP
 * clients) and checked by running the whole test suite under them.
 * Filters are inherited across fork and exec: the monitor's list therefore
 * includes what a fetcher needs between fork and its own, stricter, list
 * (the dynamic loader, dropping privileges).
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "sensor.h"

#define SC(name) SCMP_SYS(name)

/* Every role: memory, time, signals, plain I/O on descriptors it holds. */
static const int common_calls[] = {
	SC(read), SC(write), SC(readv), SC(writev), SC(pread64), SC(pwrite64), SC(close),
	SC(fstat), SC(newfstatat), SC(lseek), SC(brk), SC(mmap), SC(munmap), SC(mremap),
	SC(madvise), SC(mprotect), SC(futex), SC(rt_sigaction), SC(rt_sigprocmask),
	SC(rt_sigreturn), SC(sigaltstack), SC(exit), SC(exit_group), SC(getpid), SC(gettid),
	SC(tgkill), SC(clock_gettime), SC(gettimeofday), SC(time), SC(clock_nanosleep),
	SC(nanosleep), SC(poll), SC(ppoll), SC(fcntl), SC(getrandom), SC(restart_syscall),
	SC(sched_yield), SC(getuid), SC(geteuid), SC(getgid), SC(getegid),
};

/* The sensor: logs and carved files in its chroot, its sockets, the capture ring. */
static const int sensor_calls[] = {
	SC(openat), SC(unlinkat), SC(linkat), SC(renameat), SC(ftruncate), SC(fsync),
	SC(fdatasync), SC(recvmsg), SC(sendmsg), SC(recvfrom), SC(sendto), SC(getsockopt),
	SC(setsockopt), SC(connect), SC(shutdown), SC(getsockname), SC(getpeername),
	SC(select), SC(pselect6), SC(epoll_wait), SC(epoll_pwait),
};

/* A pool's supervisor: the sensor's calls, and its workers to stop and reap. */
static const int pool_calls[] = {SC(wait4), SC(kill)};

/* A pool worker: carved files in its chroot, its socket to the supervisor, the ring. */
static const int worker_calls[] = {
	SC(openat), SC(unlinkat), SC(linkat), SC(renameat), SC(ftruncate), SC(fsync),
	SC(fdatasync), SC(recvmsg), SC(sendmsg), SC(recvfrom), SC(sendto), SC(getsockopt),
	SC(setsockopt), SC(select), SC(pselect6),
};

/* The fetcher: its transfers' sockets and the samples area. */
static const int fetcher_calls[] = {
	SC(openat), SC(unlinkat), SC(linkat), SC(ftruncate), SC(connect), SC(bind),
	SC(recvmsg), SC(sendmsg), SC(recvfrom), SC(sendto), SC(getsockopt), SC(setsockopt),
	SC(getsockname), SC(getpeername), SC(shutdown), SC(pipe2), SC(eventfd2),
	SC(select), SC(pselect6), SC(epoll_create1), SC(epoll_ctl), SC(epoll_wait),
	SC(epoll_pwait), SC(uname), SC(dup), SC(sysinfo),
};

/* The monitor: spawning, reaping, signalling; plus a fetcher's start-up. */
static const int monitor_calls[] = {
	SC(clone), SC(clone3), SC(fork), SC(vfork), SC(execve), SC(execveat), SC(wait4),
	SC(waitid), SC(kill), SC(socketpair), SC(sendmsg), SC(recvmsg), SC(dup2), SC(dup3),
	SC(close_range), SC(setsid), SC(openat), SC(access), SC(faccessat), SC(faccessat2),
	SC(readlink), SC(readlinkat), SC(arch_prctl), SC(set_tid_address),
	SC(set_robust_list), SC(rseq), SC(prlimit64), SC(statfs), SC(chroot), SC(chdir),
	SC(setgroups), SC(setresgid), SC(setresuid), SC(setuid), SC(setgid), SC(capget),
	SC(capset), SC(prctl), SC(seccomp), SC(getppid), SC(getpgrp),
	SC(fchown), SC(fchownat), SC(getdents64), SC(stat), SC(newfstatat),
};

#ifdef WS_SANITIZE
/*
 * The ASan/UBSan runtime makes raw calls of its own (open, not openat;
 * readlink of /proc/self/exe; sched_getaffinity; ...). Sanitizer builds are
 * for finding memory bugs in tests, not for deployment: they get these too.
 */
static const int sanitizer_calls[] = {
	SC(open), SC(stat), SC(lstat), SC(access), SC(readlink), SC(readlinkat),
	SC(sched_getaffinity), SC(getrusage), SC(prlimit64), SC(getdents64), SC(mincore),
	SC(personality), SC(getppid),
};
#endif

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[160], *name;
	int n;

	(void)ctx;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, si->si_syscall);
	n = snprintf(msg, sizeof(msg), "wormsnare: seccomp: forbidden system call %d (%s)\n",
		     si->si_syscall, name ? name : "?");
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int allow_list(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (calls[i] >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			return -1;
	return 0;
}

/*
 * Argument `arg` equal to v. libseccomp's SCMP_A0()/SCMP_A1() leave
 * datum_b to the compiler's zero (clang warns, -Wmissing-field-initializers).
 */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t v)
{
	struct scmp_arg_cmp c = {.arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};

	return c;
}

/* socket(2) only for the given domains. */
static int allow_socket(scmp_filter_ctx ctx, const int *domains, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(socket), 1,
				     arg_eq(0, (scmp_datum_t)domains[i])) < 0)
			return -1;
	return 0;
}

/* ioctl(2) only to ask whether a descriptor is a terminal or how much it holds. */
static int allow_ioctl(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(ioctl), 1, arg_eq(1, TCGETS)) < 0)
		return -1;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(ioctl), 1, arg_eq(1, FIONREAD));
}

static int role_rules(scmp_filter_ctx ctx, enum ws_role role)
{
	static const int inet[] = {AF_INET, AF_INET6};
	static const int inet_unix[] = {AF_UNIX, AF_INET, AF_INET6};
	int rc = allow_list(ctx, common_calls, sizeof(common_calls) / sizeof(int));

	rc |= allow_ioctl(ctx);
#ifdef WS_SANITIZE
	rc |= allow_list(ctx, sanitizer_calls, sizeof(sanitizer_calls) / sizeof(int));
#endif
	switch (role) {
	case WS_ROLE_SENSOR:
		rc |= allow_list(ctx, sensor_calls, sizeof(sensor_calls) / sizeof(int));
		rc |= allow_socket(ctx, inet_unix, 3);	/* syslog output reconnecting */
		break;
	case WS_ROLE_POOL:
		rc |= allow_list(ctx, sensor_calls, sizeof(sensor_calls) / sizeof(int));
		rc |= allow_list(ctx, pool_calls, sizeof(pool_calls) / sizeof(int));
		rc |= allow_socket(ctx, inet_unix, 3);	/* syslog output reconnecting */
		break;
	case WS_ROLE_WORKER:
		rc |= allow_list(ctx, worker_calls, sizeof(worker_calls) / sizeof(int));
		break;
	case WS_ROLE_FETCHER:
		rc |= allow_list(ctx, fetcher_calls, sizeof(fetcher_calls) / sizeof(int));
		rc |= allow_socket(ctx, inet, 2);
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(socketpair), 1, arg_eq(0, AF_UNIX));
		break;
	case WS_ROLE_MONITOR:
		rc |= allow_list(ctx, monitor_calls, sizeof(monitor_calls) / sizeof(int));
		rc |= allow_list(ctx, fetcher_calls, sizeof(fetcher_calls) / sizeof(int));
		rc |= allow_socket(ctx, inet, 2);
		break;
	}
	return rc ? -1 : 0;
}

int ws_seccomp_apply(enum ws_role role, char *err, size_t errlen)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	rc = role_rules(ctx, role);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp filter: %s", strerror(rc < -1 ? -rc : EINVAL));
		return -1;
	}
	return 0;
}
