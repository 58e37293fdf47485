/* fuzz-conf: the configuration parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *error = NULL;

	if (conf_parse("fuzz.conf", "/nonexistent", (const char *)data, size,
	    &cfg, &error) == -1)
		free(error);
	conf_free(&cfg);
	return 0;
}
