/* privsep: who the children run as, and the drop to that user. */
#ifndef POSTIE_PRIVSEP_H
#define POSTIE_PRIVSEP_H

#include <sys/types.h>

#include "lib/conf.h"

/* mail_user, or the owner of data_dir when it is empty. */
int	privsep_resolve(const struct config *cfg, uid_t *uid_r, gid_t *gid_r,
	    char **error_r) __attribute__((warn_unused_result));
/* As root: become uid/gid for good (and check that root cannot come
 * back). Not root: nothing to do. Failure is fatal. */
void	privsep_drop(uid_t uid, gid_t gid);

#endif
