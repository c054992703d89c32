/*
 * What the worker does with the streams the reassembler hands it: each
 * followed TCP connection is either a command shell (bytes of both
 * directions go to a cmd.exe session model, shell/), an FTP control
 * connection, or an FTP data connection a control connection announced (both
 * to the FTP tracker, ftp/, through the carve store). Commands become events
 * for the supervisor; shell evidence protects the stream from eviction.
 *
 * Per-flow state is allocated at the flow's first bytes and sized to what it
 * is: a shell session starts at a few hundred bytes and grows only with what
 * is typed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ftp.h"
#include "output.h"
#include "reassembly.h"
#include "sensor.h"
#include "shell.h"

#define FTP_PORT 21

enum flow_kind { FLOW_NONE, FLOW_SHELL, FLOW_FTP_CTL, FLOW_FTP_DATA };

struct flow_ctx {
	enum flow_kind kind;		/* FLOW_NONE: no byte delivered yet */
	uint8_t holes;			/* FLOW_NONE: bit per side with a hole before any byte */
	struct ws_shell *shell;		/* FLOW_SHELL */
	bool protected;			/* shell evidence reported to the reassembler */
};

/* The context of one shell event callback. */
struct event_ctx {
	struct ws_analysis *an;
	struct ws_flow_info *flow;
};

static enum ws_action action_of(enum ws_shell_action a)
{
	switch (a) {
	case WS_SHELL_GET: return WS_ACT_GET;
	case WS_SHELL_FTP_GET: return WS_ACT_FTP_GET;
	case WS_SHELL_START: return WS_ACT_START;
	default: return WS_ACT_EXEC;
	}
}

static bool is_ftp_port(const struct ws_analysis *an, uint16_t port)
{
	if (port == FTP_PORT)
		return true;
	for (size_t i = 0; i < an->nftp_ports; i++)
		if (an->ftp_ports[i] == port)
			return true;
	return false;
}

static void on_shell_event(const struct ws_shell_event *sev, void *arg)
{
	struct event_ctx *ec = arg;
	struct ws_analysis *an = ec->an;
	bool attacker_is_client = sev->attacker == WS_SIDE_CLIENT;
	char file[WS_SHELL_NAME_MAX * 4 + 8], host[WS_FIELD_MAX], server[WS_FIELD_MAX + 8];
	struct ws_cmd_event ev = {
		.action = action_of(sev->action),
		.ts = *sev->ts,
		.attacker = attacker_is_client ? ec->flow->client : ec->flow->server,
		.victim = attacker_is_client ? ec->flow->server : ec->flow->client,
		.file = file,
		.file_len = ws_copy_cut(file, sizeof(file), sev->file, sev->file_len),
		.host = host,
		.host_len = ws_copy_cut(host, sizeof(host), sev->host, sev->host_len),
		.server_text = server,
		.host_addr = sev->addr,
		.port = sev->port,
		.user = sev->user,
		.pass = sev->pass,
		.name_ok = sev->name_ok,
	};
	uint64_t id;

	ws_shell_server_text(sev, server, sizeof(server));
	id = an->sink.command(an->sink.arg, &ev);
	an->events++;
	if (!ec->flow->shell)
		ws_reasm_protect(ec->flow);
	if (ev.action == WS_ACT_GET || ev.action == WS_ACT_FTP_GET) {
		struct ws_relay_note n = {
			.eventid = id,
			.proto = ev.action == WS_ACT_GET ? WS_CARVE_TFTP : WS_CARVE_FTP,
			.ts = ev.ts,
			.victim = ev.victim.addr,
			.attacker = ev.attacker.addr,
			.host = sev->addr,
			.port = ev.port,
		};

		snprintf(n.file, sizeof(n.file), "%s", file);
		ws_analysis_note(an, &n);
	}
}

void ws_analysis_note(struct ws_analysis *an, const struct ws_relay_note *n)
{
	if (n->proto == WS_CARVE_FTP && !is_ftp_port(an, n->port) &&
	    an->nftp_ports < WS_ANALYSIS_FTP_PORTS) {
		an->ftp_ports[an->nftp_ports++] = n->port;
		ws_reasm_follow_port(n->port);	/* the victim's FTP session to come */
	}
	if (an->carve)
		ws_carve_store_note_get(an->carve, n->eventid, n->proto, &n->victim, &n->attacker,
					&n->host, n->file, &n->ts);
}

static struct ws_ftp_flow ftp_flow_of(const struct ws_flow_info *flow)
{
	struct ws_ftp_flow f = {flow->client, flow->server};

	return f;
}

/* What a flow is, decided at its first bytes. */
static enum flow_kind classify(struct ws_analysis *an, const struct ws_flow_info *flow,
			       enum ws_side from, const uint8_t *data, size_t len)
{
	struct ws_ftp_tracker *ft = an->carve ? ws_carve_store_ftp(an->carve) : NULL;
	struct ws_ftp_flow f = ftp_flow_of(flow);

	if (ft && ws_ftp_data_expected(ft, &f))
		return FLOW_FTP_DATA;
	if (flow->shell)
		return FLOW_SHELL;
	if (ft && (is_ftp_port(an, flow->server.port) ||
		   (from == WS_SIDE_SERVER && ws_ftp_is_greeting(data, len))))
		return FLOW_FTP_CTL;
	return FLOW_SHELL;
}

static struct flow_ctx *ctx_of(struct ws_analysis *an, struct ws_flow_info *flow)
{
	if (!flow->user && !(flow->user = calloc(1, sizeof(struct flow_ctx))))
		an->no_mem++;
	return flow->user;
}

static enum ws_ftp_side ftp_side_of(enum ws_side from)
{
	return from == WS_SIDE_CLIENT ? WS_FTP_FROM_CLIENT : WS_FTP_FROM_SERVER;
}

/* A hole in one side's bytes, to the flow's parser: it drops what the hole cut. */
static void parser_gap(struct ws_analysis *an, struct flow_ctx *fc, struct ws_flow_info *flow,
		       enum ws_side from, const struct timeval *ts)
{
	struct ws_ftp_flow f = ftp_flow_of(flow);

	switch (fc->kind) {
	case FLOW_NONE:
		break;
	case FLOW_SHELL:
		if (fc->shell || (fc->shell = ws_shell_new()))
			ws_shell_gap(fc->shell, from);
		else
			an->no_mem++;
		break;
	case FLOW_FTP_CTL:
		ws_ftp_ctl_gap(ws_carve_store_ftp(an->carve), &f, ftp_side_of(from), ts);
		break;
	case FLOW_FTP_DATA:
		ws_ftp_data_gap(ws_carve_store_ftp(an->carve), &f);
		break;
	}
}

void ws_analysis_data(struct ws_analysis *an, struct ws_flow_info *flow, enum ws_side from,
		      const uint8_t *data, size_t len, const struct timeval *ts)
{
	struct flow_ctx *fc = ctx_of(an, flow);
	struct ws_ftp_flow f = ftp_flow_of(flow);
	enum ws_ftp_side fs = ftp_side_of(from);

	if (!fc)
		return;
	if (fc->kind == FLOW_NONE) {
		fc->kind = classify(an, flow, from, data, len);
		/* holes before the first byte: what follows them is cut too */
		for (int s = 0; s < 2; s++)
			if (fc->holes & (1u << s))
				parser_gap(an, fc, flow, (enum ws_side)s, ts);
		fc->holes = 0;
	}
	switch (fc->kind) {
	case FLOW_NONE:
		break;
	case FLOW_SHELL: {
		struct event_ctx ec = {an, flow};

		if (!fc->shell && !(fc->shell = ws_shell_new())) {
			an->no_mem++;
			return;
		}
		if (!ws_shell_feed(fc->shell, from, data, len, ts, on_shell_event, &ec))
			an->no_mem++;
		if (!flow->shell && ws_shell_attacker(fc->shell) != WS_SIDE_UNKNOWN)
			ws_reasm_protect(flow);	/* banner or prompt seen: a shell */
		break;
	}
	case FLOW_FTP_CTL:
		ws_ftp_ctl_data(ws_carve_store_ftp(an->carve), &f, fs, data, len, ts);
		break;
	case FLOW_FTP_DATA:
		ws_ftp_data(ws_carve_store_ftp(an->carve), &f, fs, data, len, ts);
		break;
	}
}

/*
 * A hole in one side's bytes: the parsers drop what it cut, guessing
 * nothing. Before the flow's first byte its parser is not chosen yet: the
 * hole waits for it.
 */
void ws_analysis_gap(struct ws_analysis *an, struct ws_flow_info *flow, enum ws_side from,
		     const struct timeval *ts)
{
	struct flow_ctx *fc = ctx_of(an, flow);

	if (!fc)
		return;
	if (fc->kind == FLOW_NONE)
		fc->holes |= (uint8_t)(1u << from);	/* WS_SIDE_CLIENT 0, SERVER 1 */
	else
		parser_gap(an, fc, flow, from, ts);
}

static enum ws_ftp_close ftp_close_of(enum ws_close_reason why)
{
	return why == WS_CLOSE_FIN ? WS_FTP_CLOSE_FIN :
	       why == WS_CLOSE_RST ? WS_FTP_CLOSE_RST : WS_FTP_CLOSE_TIMEOUT;
}

void ws_analysis_close(struct ws_analysis *an, struct ws_flow_info *flow,
		       enum ws_close_reason why, const struct timeval *ts)
{
	struct flow_ctx *fc = flow->user;
	struct ws_ftp_flow f = ftp_flow_of(flow);

	if (!fc)
		return;
	switch (fc->kind) {
	case FLOW_NONE:
		break;
	case FLOW_SHELL:
		if (fc->shell) {
			struct event_ctx ec = {an, flow};
			struct ws_shell_stats st;

			/* cmd.exe runs an unterminated last line at end of input, not on a reset */
			if (why == WS_CLOSE_FIN || why == WS_CLOSE_END)
				ws_shell_end(fc->shell, ts, on_shell_event, &ec);
			ws_shell_get_stats(fc->shell, &st);
			an->shell.truncated += st.truncated + st.holed;
			an->shell.over_budget += st.over_budget;
			ws_shell_free(fc->shell);
		}
		break;
	case FLOW_FTP_CTL:
		if (an->carve)
			ws_ftp_ctl_end(ws_carve_store_ftp(an->carve), &f, ftp_close_of(why), ts);
		break;
	case FLOW_FTP_DATA:
		if (an->carve)
			ws_ftp_data_end(ws_carve_store_ftp(an->carve), &f, ftp_close_of(why), ts);
		break;
	}
	free(fc);
	flow->user = NULL;
}

/*
 * Screening: is this flow worth following? A cmd.exe banner, a prompt or a
 * dropper command line is a shell; an FTP greeting (or port 21) is an FTP
 * control connection. Everything else stays undecided in the reassembler's
 * bounded table until its first bytes are all seen, then is ignored; but a
 * side that opens with a stager's length prefix for a stage longer than
 * the window stays undecided: the victim's banner comes after the stage
 * (pcaps/shell-stager-long), and the other side's first bytes decide.
 */
enum ws_screen_verdict ws_analysis_screen(struct ws_analysis *an, const struct ws_flow_info *flow,
					  enum ws_side from, const uint8_t *bytes, size_t len)
{
	if (ws_shell_screen(bytes, len) != WS_SHELL_NONE)
		return WS_SCREEN_FOLLOW_SHELL;
	if (an->carve && (is_ftp_port(an, flow->server.port) ||
			  (from == WS_SIDE_SERVER && ws_ftp_is_greeting(bytes, len))))
		return WS_SCREEN_FOLLOW;
	if (len < WS_SCREEN_BYTES || ws_shell_stage_len(bytes, len) + 4 > WS_SCREEN_BYTES)
		return WS_SCREEN_UNDECIDED;
	return WS_SCREEN_IGNORE;
}
