/* libFuzzer: the YAML config loader and the known-hashes loader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct ws_config cfg, before;
	struct ws_known *k;
	char err[1024];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/ws-fuzz-config-%d.yaml", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	ws_config_defaults(&cfg);
	before = cfg;
	if (ws_config_load(path, &cfg, err, sizeof(err)) < 0) {
		/* an error leaves the config untouched and says where */
		if (memcmp(&cfg, &before, sizeof(cfg)) != 0 || strncmp(err, path, strlen(path)) != 0)
			__builtin_trap();
	}
	if (ws_known_load(path, &k, err, sizeof(err)) == 0)
		ws_known_free(k);
	unlink(path);	/* each fuzz process and seed replay would leave one in /tmp */
	return 0;
}
