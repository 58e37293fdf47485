/* bounce-private: what the log (bounce-log.c) and the DSN (bounce.c)
 * share. Not for other modules: they use bounce.h. */
#ifndef POSTIE_BOUNCE_PRIVATE_H
#define POSTIE_BOUNCE_PRIVATE_H

#include <stdbool.h>

#include "queue/bounce.h"

#define BOUNCE_NACTIONS		4

/* "failed", "delayed", "delivered": in the log and in Action: fields. */
extern const char *const bounce__action_names[BOUNCE_NACTIONS];

/* A known action, a recipient index below ENVELOPE_RCPTS_MAX and an RFC
 * 3463 status code. */
bool	bounce__valid_entry(const struct bounce_entry *e);

#endif
