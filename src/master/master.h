/* master: `postie serve`. Opens the listeners and TLS keys, starts and
 * supervises the worker processes and the queue manager, reloads on SIGHUP
 * and stops everything on SIGTERM. */
#ifndef POSTIE_MASTER_H
#define POSTIE_MASTER_H

#include "lib/conf.h"

/* Runs until SIGTERM/SIGINT; takes ownership of cfg. Returns the exit
 * status for the process. */
int	master_run(struct config *cfg);

#endif
