/* privsep: resolve the mail user and drop privileges in the children
 * (setgroups, setresgid, setresuid, then prove root is gone). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "master/privsep.h"

int
privsep_resolve(const struct config *cfg, uid_t *uid_r, gid_t *gid_r,
    char **error_r)
{
	struct passwd *pw;
	struct stat st;

	if (*cfg->mail_user != '\0') {
		errno = 0;
		if ((pw = getpwnam(cfg->mail_user)) == NULL) {
			*error_r = xasprintf("mail_user: no such user %s",
			    cfg->mail_user);
			return -1;
		}
		*uid_r = pw->pw_uid;
		*gid_r = pw->pw_gid;
		return 0;
	}
	if (stat(cfg->data_dir, &st) == -1) {
		*error_r = xasprintf("data_dir %s: %s", cfg->data_dir,
		    strerror(errno));
		return -1;
	}
	*uid_r = st.st_uid;
	*gid_r = st.st_gid;
	return 0;
}

void
privsep_drop(uid_t uid, gid_t gid)
{
	if (geteuid() != 0 || uid == 0)
		return;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("cannot drop privileges to uid %u", (unsigned)uid);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("privileges could be regained after the drop");
}
