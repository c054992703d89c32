/* libFuzzer: the command matcher over arbitrary lines, with stream memory. */
#include <stdint.h>
#include <string.h>

#include "sensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_match_ctx ctx;
	struct ws_match m;
	size_t start = 0;

	memset(&ctx, 0, sizeof(ctx));
	/* every LF starts a new line of the same stream, as the reassembler delivers them */
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			size_t n = ws_match_line((const char *)data + start, i - start, &ctx, &m);

			if (n > WS_MATCH_MAX_CMDS)
				__builtin_trap();
			for (size_t k = 0; k < n; k++)
				if (strlen(m.cmds[k].file) >= WS_FIELD_MAX || m.cmds[k].file[0] == '\0')
					__builtin_trap();
			start = i + 1;
		}
	}
	return 0;
}
