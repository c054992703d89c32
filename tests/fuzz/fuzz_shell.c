/*
 * libFuzzer: the cmd.exe session model and the screen over arbitrary
 * bytes. The input is a sequence of chunks [h][data]: bit 0 of h is the
 * side, bits 1..7 the data length (0..125); length 126 is a hole in that
 * side (capture loss, no data), length 127 takes the rest of the input.
 * Each chunk is also screened and read as a stager's length prefix.
 */
#include <stdint.h>
#include <string.h>

#include "shell.h"

static void on_event(const struct ws_shell_event *ev, void *arg)
{
	unsigned *n = arg;

	if (ev->attacker != WS_SIDE_CLIENT && ev->attacker != WS_SIDE_SERVER)
		__builtin_trap();
	if (!ev->file || ev->file[ev->file_len] != '\0' || ev->local[ev->local_len] != '\0' ||
	    ev->host[ev->host_len] != '\0' || !ev->user || !ev->pass)
		__builtin_trap();
	if (ev->name_ok && (ev->file_len == 0 || ev->file_len > WS_SHELL_NAME_MAX))
		__builtin_trap();
	if ((ev->action == WS_SHELL_GET || ev->action == WS_SHELL_FTP_GET) &&
	    (ev->host_len == 0 || ev->port == 0))
		__builtin_trap();
	{
		char srv[16];
		size_t need = ws_shell_server_text(ev, srv, sizeof(srv));

		if (strlen(srv) >= sizeof(srv) || strlen(srv) > need)
			__builtin_trap();
	}
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_shell *s = ws_shell_new();
	struct ws_shell_stats st;
	struct timeval ts = {0, 0};
	unsigned events = 0;
	size_t i = 0;

	if (!s)
		return 0;
	while (i < size) {
		int side = data[i] & 1;
		size_t len = data[i] >> 1;

		i++;
		if (len == 126) {
			ws_shell_gap(s, side);
			continue;
		}
		if (len == 127 || len > size - i)
			len = size - i;
		ws_shell_screen(data + i, len);
		if (ws_shell_stage_len(data + i, len) > WS_SHELL_STAGE_MAX)
			__builtin_trap();
		ws_shell_feed(s, side, data + i, len, &ts, on_event, &events);
		i += len;
	}
	ws_shell_end(s, &ts, on_event, &events);
	ws_shell_get_stats(s, &st);
	/* lines, env, files and names are bounded: well under 256 KiB whatever came in */
	if (st.heap > 256 * 1024 || st.events != events)
		__builtin_trap();
	ws_shell_free(s);
	return 0;
}
