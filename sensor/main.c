/*
 * wormsnare: a passive sensor for worm droppers typed into cmd.exe shells.
 *
 * This file is the command line only: options, configuration, users; then
 * the monitor takes over (sensor/monitor.c), which forks the capturing
 * process (sensor/worker.c) and, on demand, fetchers re-executed from this
 * same binary (sensor/fetchproc.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sensor.h"

#define MAX_READ_FILES 4096

static void usage(FILE *to)
{
	fprintf(to,
		"usage: wormsnare -r FILE|DIR [-r ...] [-c CONFIG] [-o DIR] [--fetch | --no-fetch] [-v]\n"
		"       wormsnare -i IFACE [-c CONFIG] [-o DIR] [--no-fetch] [-v]\n"
		"       wormsnare --version | --help\n"
		"\n"
		"Watches TCP sessions for commands typed into Windows cmd.exe shells that drop\n"
		"malware (tftp -i HOST GET FILE, ftp scripts, start FILE, ...), logs each one,\n"
		"recovers the dropped file from the TFTP transfer seen on the wire, and can fetch\n"
		"it itself in a separate, unprivileged, sandboxed process.\n"
		"\n"
		"  -r FILE|DIR  replay pcap/pcapng files (several -r, or a directory, read as one\n"
		"               capture in timestamp order); never fetches unless --fetch\n"
		"  -i IFACE     capture live on IFACE (needs root or CAP_NET_RAW); FETCHES from the\n"
		"               hosts the commands name unless --no-fetch or fetch.enabled: false\n"
		"  -c CONFIG    YAML configuration (default: built-in, same as wormsnare.yaml)\n"
		"  -o DIR       output directory (overrides output.dir)\n"
		"  --fetch      fetch the files GET commands name (offline replay too)\n"
		"  --no-fetch   never fetch\n"
		"  -v           verbose: effective settings, capture filter, fetch results\n"
		"\n"
		"Writes into DIR: blasterlog.txt (one TSV row per command), events.json (the same\n"
		"as JSON lines, with files and warnings), fetchlog.txt (one row per file carved from\n"
		"the wire or fetched), carved files blast_<name>_<eventid>.bin, and fetched files in\n"
		"DIR/fetched/. SIGHUP reopens the logs, SIGUSR1 prints statistics.\n");
}

static void add_read_file(struct ws_options *o, const char *path)
{
	static const char *files[MAX_READ_FILES];

	if (o->nread == MAX_READ_FILES) {
		fprintf(stderr, "wormsnare: more than %d capture files\n", MAX_READ_FILES);
		exit(2);
	}
	files[o->nread++] = path;
	o->read_files = files;
}

static void parse_args(int argc, char **argv, struct ws_options *o)
{
	enum { OPT_FETCH = 256, OPT_NO_FETCH, OPT_VERSION, OPT_HELP };
	static const struct option longopts[] = {
		{"fetch", no_argument, NULL, OPT_FETCH},
		{"no-fetch", no_argument, NULL, OPT_NO_FETCH},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "r:i:c:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': add_read_file(o, optarg); break;
		case 'i': o->iface = optarg; break;
		case 'c': o->config = optarg; break;
		case 'o': o->outdir = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_FETCH: o->fetch = WS_FETCH_MODE_ON; break;
		case OPT_NO_FETCH: o->fetch = WS_FETCH_MODE_OFF; break;
		case OPT_VERSION:
			printf("wormsnare %s\n", WS_VERSION);
			exit(0);
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	/* files after the options extend a replay: wormsnare -r a.pcap b.pcap c.pcap */
	for (; optind < argc && o->nread > 0; optind++)
		add_read_file(o, argv[optind]);
	if (optind != argc) {
		fprintf(stderr, "wormsnare: unexpected argument: %s\n", argv[optind]);
		exit(2);
	}
	if (!o->nread == !o->iface) {
		fprintf(stderr, "wormsnare: give exactly one of -r FILE or -i IFACE\n");
		usage(stderr);
		exit(2);
	}
}

static void die(const char *msg)
{
	fprintf(stderr, "wormsnare: %s\n", msg);
	exit(1);
}

static void load_config(struct ws_run *run)
{
	char err[1024];

	ws_config_defaults(&run->cfg);
	if (run->opt.config && ws_config_load(run->opt.config, &run->cfg, err, sizeof(err)) < 0)
		die(err);
	if (run->opt.outdir) {
		if (strlen(run->opt.outdir) >= sizeof(run->cfg.output.dir))
			die("-o: directory name too long");
		snprintf(run->cfg.output.dir, sizeof(run->cfg.output.dir), "%s", run->opt.outdir);
	}
	if (run->opt.fetch == WS_FETCH_MODE_ON)
		run->fetch_on = true;
	else if (run->opt.fetch == WS_FETCH_MODE_OFF)
		run->fetch_on = false;
	else
		run->fetch_on = run->opt.iface && run->cfg.fetch.enabled;
	snprintf(run->samples_dir, sizeof(run->samples_dir), "%s/fetched", run->cfg.output.dir);
}

/*
 * Root, or a user holding CAP_SETUID/CAP_SETGID (the packaged service),
 * switches users; anyone else stays who they are (capabilities still go).
 */
static void resolve_users(struct ws_run *run)
{
	char err[512];

	if (!ws_can_switch_users()) {
		run->sensor_ids.uid = run->fetch_ids.uid = geteuid();
		run->sensor_ids.gid = run->fetch_ids.gid = getegid();
		snprintf(run->sensor_ids.name, sizeof(run->sensor_ids.name), "uid %u",
			 (unsigned)geteuid());
		memcpy(run->fetch_ids.name, run->sensor_ids.name, sizeof(run->fetch_ids.name));
		return;
	}
	if (ws_resolve_users(&run->cfg, &run->sensor_ids, &run->fetch_ids, err, sizeof(err)) < 0)
		die(err);
}

int main(int argc, char **argv)
{
	static struct ws_run run;
	static char errbuf[4096];	/* PIPE_BUF: one write(2) per line */

	/* Line-buffered stderr: a statistics line is built by several fprintf
	 * calls, and the workers of a pool share one stderr; unbuffered, their
	 * lines interleave mid-line (seen in CI). Each line now reaches the
	 * descriptor in one write, which a pipe or file keeps whole. */
	setvbuf(stderr, errbuf, _IOLBF, sizeof(errbuf));
	if (argc > 1 && strcmp(argv[1], WS_FETCHER_CHILD_FLAG) == 0)
		ws_fetcher_child_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &run.opt);
	load_config(&run);
	resolve_users(&run);
	return ws_monitor_run(&run);
}
