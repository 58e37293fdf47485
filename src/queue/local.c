/* local: delivery of one message to one local target (see local.h), for
 * the queue manager and the LMTP server. Runs on offload threads; keeps no
 * state of its own, so any number of threads may call it at once.
 *
 * Limits: the loop check reads at most LOCAL_HEADER_SCAN_MAX octets of the
 * header section; paths come from the directory through dir_user_maildir(),
 * which refuses any that would leave mail_root. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/str.h"
#include "queue/local.h"
#include "store/maildir.h"

#define LOCAL_HEADER_SCAN_MAX	(256 * 1024)

static bool	delivered_to_seen(const char *headers, const char *address);

char *
local_read_headers(int fd, off_t offset, uint64_t size, struct pool *pool)
{
	size_t max = size < LOCAL_HEADER_SCAN_MAX ? (size_t)size :
	    LOCAL_HEADER_SCAN_MAX;
	char *buf = pool_alloc(pool, max + 1), *end;
	ssize_t n;

	n = pread(fd, buf, max, offset);
	buf[n > 0 ? n : 0] = '\0';
	if ((end = strstr(buf, "\r\n\r\n")) != NULL)
		end[2] = '\0';
	str_lower(buf);
	return buf;
}

/* A Delivered-To naming this address means the message came back here. */
static bool
delivered_to_seen(const char *headers, const char *address)
{
	const char *p = headers;
	size_t alen = strlen(address);

	while ((p = strstr(p, "delivered-to:")) != NULL) {
		if (p == headers || p[-1] == '\n') {
			const char *v = p + 13;

			while (*v == ' ' || *v == '\t')
				v++;
			if (strncasecmp(v, address, alen) == 0 &&
			    (v[alen] == '\r' || v[alen] == ' ' ||
			    v[alen] == '\0'))
				return true;
		}
		p += 13;
	}
	return false;
}

enum local_result
local_deliver(struct dir *dir, const struct config *cfg,
    const struct local_msg *m, const struct dir_target *t,
    const char *orig_to, struct pool *pool, const char **status_r,
    const char **text_r)
{
	struct maildir_delivery d = { 0 };
	struct dir_user u;
	const char *error, *path;
	char *prefix, file[4096];
	int r;

	if (m->headers != NULL && delivered_to_seen(m->headers, t->address)) {
		*status_r = "5.4.6";
		*text_r = pool_printf(pool, "mail for %s loops back to "
		    "itself (Delivered-To)", t->address);
		return LOCAL_FAILED;
	}
	r = dir_user_lookup(dir, t->address, pool, &u, &error);
	if (r == -1) {
		*status_r = "4.3.0";
		*text_r = pool_printf(pool, "directory: %s", error);
		return LOCAL_DEFERRED;
	}
	if (r == 0 || !u.active) {
		*status_r = "5.1.1";
		*text_r = pool_printf(pool, "user %s unknown", t->address);
		return LOCAL_FAILED;
	}
	if ((path = dir_user_maildir(cfg, &u, pool)) == NULL) {
		*status_r = "5.3.5";
		*text_r = "no valid mailbox path";
		return LOCAL_FAILED;
	}
	prefix = pool_printf(pool, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    m->sender, u.address);
	d.path = path;
	d.folder = cfg->plus_folder_delivery ? t->extension : NULL;
	d.prefix = prefix;
	d.prefix_len = strlen(prefix);
	d.src_fd = m->fd;
	d.src_offset = m->offset;
	d.size = m->size;
	d.quota_bytes = u.quota_bytes;
	d.hostname = cfg->hostname;
	d.before_rename = m->before_rename;
	d.ctx = m->ctx;
	switch (maildir_deliver(&d, file, sizeof(file), &error)) {
	case MAILDIR_OK:
		log_info("%s: to=<%s>, orig_to=<%s>, relay=local, delay=%lld, "
		    "status=sent (delivered to maildir)", m->id, u.address,
		    orig_to, (long long)(time(NULL) - m->arrival));
		return LOCAL_DELIVERED;
	case MAILDIR_OVER_QUOTA:
		if (cfg->quota_exceeded_temporary) {
			*status_r = "4.2.2";
			*text_r = pool_printf(pool, "mailbox of %s is full",
			    u.address);
			return LOCAL_DEFERRED;
		}
		*status_r = "5.2.2";
		*text_r = pool_printf(pool, "mailbox of %s is full", u.address);
		return LOCAL_FAILED;
	case MAILDIR_BAD_FOLDER:
	case MAILDIR_TEMPFAIL:
		break;
	}
	*status_r = "4.3.0";
	*text_r = pool_printf(pool, "cannot deliver to %s: %s", u.address,
	    error);
	return LOCAL_DEFERRED;
}
