/* cmd-sendmail: `postie sendmail` (also run as `sendmail` through a link),
 * the sendmail(8) interface that cron, PHP's mail(), git send-email and
 * mail(1) submit mail with.
 *
 * The message comes on standard input, bounded by max_message_size (what
 * is queued counts, added headers included). LF line ends become CRLF; a
 * line with a single "." ends the input unless -i/-oi. Recipients are the
 * arguments, plus with -t those of To:, Cc: and Bcc:; at most
 * smtp_max_recipients, each one validated, a bare name getting
 * "@hostname". Bcc: is always removed; From:, Date: and Message-ID: are
 * added when missing.
 *
 * The result is a queue file (queue.h) in maildrop/, which is mode 1733,
 * so this works for any local user and while the server is down: written
 * as ".ID.tmp", fsync'ed, renamed to "ID", and the manager is woken. The
 * queue manager treats maildrop files as untrusted input and validates
 * them before queueing. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mail/address.h"
#include "queue/queue.h"

#define STAGE_LEN	8192
#define ADDR_TEXT_MAX	1024	/* one item of an address list */
#define FULLNAME_MAX	256
#define WORD_CHUNK	45	/* bytes per encoded-word: 60 base64 chars */
#define CREATE_TRIES	10

struct sm_opts {
	bool		 extract;	/* -t */
	bool		 ignore_dots;	/* -i, -oi */
	bool		 mailq;		/* -bp */
	const char	*sender;	/* -f, -r; NULL: login@hostname */
	const char	*fullname;	/* -F; NULL: none */
};

/* A header field of the message: [start, end) with its CRLFs. */
struct sm_field {
	size_t		 start;
	size_t		 end;
	size_t		 name_len;
};

struct sendmail {
	const struct config	*cfg;	/* borrowed */
	struct sm_opts		 o;
	char			*sender;	/* "" for <> */
	struct strv		 rcpts;
	struct buf		 msg;		/* CRLF */
	struct sm_field		*fields;
	size_t			 nfields;
	size_t			 hdr_start;	/* after a leading "From " line */
	size_t			 body_start;	/* after the empty line */
	struct buf		 added;		/* From/Date/Message-ID */
	char			 id[QUEUE_ID_LEN + 1];
};

static int	parse_args(struct sm_opts *o, int argc, char **argv,
		    int *first_rcpt_r);
static char	*normalize(const struct sendmail *sm, const char *raw);
static int	set_sender(struct sendmail *sm);
static int	add_rcpt(struct sendmail *sm, const char *raw);
static int	add_rcpt_list(struct sendmail *sm, const char *s, size_t len,
		    const char *what);
static int	read_message(struct buf *b, bool ignore_dots);
static void	split_header(struct sendmail *sm);
static bool	field_is(const struct sendmail *sm, const struct sm_field *f,
		    const char *name);
static int	extract_rcpts(struct sendmail *sm);
static int	add_headers(struct sendmail *sm);
static int	put_fullname(struct buf *b, const char *name);
static void	make_id(char id[QUEUE_ID_LEN + 1]);
static uint64_t	content_size(const struct sendmail *sm);
static int	write_file(struct sendmail *sm, int fd);
static const char *errno_reason(int e);
static int	drop(struct sendmail *sm, const char *queue_dir);
static void	sendmail_free(struct sendmail *sm);

/* ------------------------------------------------------------ options */

/* sendmail(8) options, getopt style ("-ti", "-fuser", "-f user"). What
 * the programs that call sendmail pass and that means nothing here is
 * accepted and ignored; everything else is refused, so that a mode we do
 * not have (-bd, -bi, -q) never looks like it worked. */
static int
parse_args(struct sm_opts *o, int argc, char **argv, int *first_rcpt_r)
{
	const char *p, *value;
	int i;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (p = argv[i] + 1; *p != '\0'; p++) {
			switch (*p) {
			case 't':
				o->extract = true;
				continue;
			case 'i':
				o->ignore_dots = true;
				continue;
			case 'v': case 'n': case 'm': case 'U': case 'G':
				continue;	/* verbose, no aliases, ... */
			case 'o':	/* -oi, -oem, -odb, -odi ... */
				if (strcmp(p + 1, "i") == 0)
					o->ignore_dots = true;
				break;
			case 'e':	/* -em, -ep, -eq: error reporting */
			case 'd':	/* debug flags */
				break;
			case 'b':
				if (strcmp(p + 1, "p") == 0)
					o->mailq = true;
				else if (strcmp(p + 1, "m") != 0) {
					cli_error("-b%s: %s", p + 1,
					    strcmp(p + 1, "s") == 0 ?
					    "SMTP on standard input is not "
					    "supported" : "mode not supported");
					return -1;
				}
				break;
			case 'f': case 'r': case 'F':
			case 'B': case 'N': case 'R': case 'V':
			case 'X': case 'h': case 'L': case 'O':
				if (p[1] != '\0')
					value = p + 1;
				else if (i + 1 < argc)
					value = argv[++i];
				else {
					cli_error("option -%c needs a value", *p);
					return -1;
				}
				if (*p == 'f' || *p == 'r')
					o->sender = value;
				else if (*p == 'F')
					o->fullname = value;
				/* -B body type, -N/-R/-V DSN, the rest
				 * sendmail-only: ignored */
				break;
			case 'q':
				cli_error("-q: use `postie queue flush`");
				return -1;
			default:
				cli_error("unknown option -%c", *p);
				return -1;
			}
			break;	/* the option took the rest of the word */
		}
	}
	*first_rcpt_r = i;
	return 0;
}

/* ------------------------------------------------------------ addresses */

/* The address as queued (local@domain, domain lower-cased), a bare name
 * being local to this host; NULL (said) when it is not one. */
static char *
normalize(const struct sendmail *sm, const char *raw)
{
	const char *error = "invalid address";
	char *full = NULL, *norm = NULL, *shown;

	if (strchr(raw, '@') == NULL) {
		if (valid_local_part(raw))
			full = xasprintf("%s@%s", raw, sm->cfg->hostname);
	} else if (raw[0] != '@')	/* not the catch-all form "@domain" */
		full = xstrdup(raw);
	if (full != NULL)
		norm = addr_normalize(full, &error);
	free(full);
	if (norm == NULL) {
		shown = xstrdup(raw);
		str_sanitize(shown);
		cli_error("%s: %s", shown, error);
		free(shown);
	}
	return norm;
}

/* -f/-r, "<>" for the null sender, else the login name of the user. */
static int
set_sender(struct sendmail *sm)
{
	const char *s = sm->o.sender;
	struct passwd *pw;
	size_t len;
	char *bare;

	if (s == NULL) {
		if ((pw = getpwuid(getuid())) == NULL) {
			cli_error("no login name for uid %u: give -f SENDER",
			    (unsigned)getuid());
			return -1;
		}
		s = pw->pw_name;
	}
	len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	if (len == 0) {
		sm->sender = xstrdup("");
		return 0;
	}
	bare = xstrndup(s, len);
	sm->sender = normalize(sm, bare);
	free(bare);
	return sm->sender != NULL ? 0 : -1;
}

static int
add_rcpt(struct sendmail *sm, const char *raw)
{
	char *norm;
	size_t i;

	if ((norm = normalize(sm, raw)) == NULL)
		return -1;
	for (i = 0; i < sm->rcpts.n; i++) {
		if (strcmp(sm->rcpts.v[i], norm) == 0) {
			free(norm);
			return 0;
		}
	}
	if (sm->rcpts.n >= sm->cfg->smtp_max_recipients) {
		cli_error("too many recipients (smtp_max_recipients is %llu)",
		    (unsigned long long)sm->cfg->smtp_max_recipients);
		free(norm);
		return -1;
	}
	strv_push(&sm->rcpts, norm);
	free(norm);
	return 0;
}

/* An address list as in To: or an argument (mail/address.h): each of its
 * addresses through add_rcpt(). One list names at most
 * smtp_max_recipients addresses, repeats included. */
static int
add_rcpt_list(struct sendmail *sm, const char *s, size_t len,
    const char *what)
{
	struct strv addrs;
	const char *error;
	size_t i;
	int rc = 0;

	if (address_list_parse(s, len, (size_t)sm->cfg->smtp_max_recipients,
	    ADDR_TEXT_MAX, &addrs, &error) == -1) {
		cli_error("%s: %s", what, error);
		return -1;
	}
	for (i = 0; i < addrs.n && rc == 0; i++)
		rc = add_rcpt(sm, addrs.v[i]);
	strv_free(&addrs);
	return rc;
}

/* ------------------------------------------------------------ message */

/* Read standard input into b as CRLF lines. -1: too large or read error
 * (said). */
static int
read_message(struct buf *b, bool ignore_dots)
{
	uint8_t in[STAGE_LEN], out[2 * STAGE_LEN + 4];
	bool bol = true, prev_cr = false, end = false;
	int dot = 0;	/* 1: "." at a line start, 2: ".\r" */
	size_t i, n_out;
	ssize_t n;
	uint8_t c;

	while (!end) {
		n = read(STDIN_FILENO, in, sizeof(in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cli_error("standard input: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		n_out = 0;
		for (i = 0; i < (size_t)n && !end; i++) {
			c = in[i];
			if (dot != 0) {
				if (c == '\n') {
					end = true;	/* the "." line */
					break;
				}
				if (c == '\r' && dot == 1) {
					dot = 2;
					continue;
				}
				out[n_out++] = '.';
				if (dot == 2)
					out[n_out++] = '\r';
				prev_cr = dot == 2;
				dot = 0;
				bol = false;
			}
			if (bol && c == '.' && !ignore_dots) {
				dot = 1;
				continue;
			}
			if (c == '\n' && !prev_cr)
				out[n_out++] = '\r';
			out[n_out++] = c;
			prev_cr = c == '\r';
			bol = c == '\n';
		}
		if (buf_append(b, out, n_out) == -1)
			goto too_large;
	}
	/* A "." alone on the last, unterminated line ends the input too;
	 * any other unterminated last line gets its CRLF. */
	if (!bol && dot == 0 && buf_append(b, prev_cr ? "\n" : "\r\n",
	    prev_cr ? 1 : 2) == -1)
		goto too_large;
	return 0;
too_large:
	cli_error("message too large (max_message_size is %llu bytes)",
	    (unsigned long long)b->max);
	return -1;
}

/* Find the header fields. The header ends at the empty line, or at the
 * first line that is not a field (then the rest is the body and an empty
 * line is put before it). A leading mbox "From " line is dropped. */
static void
split_header(struct sendmail *sm)
{
	const uint8_t *d = sm->msg.data;
	size_t pos = 0, len = sm->msg.len, eol, k, cap = 0;

	if (len >= 5 && memcmp(d, "From ", 5) == 0) {
		pos = (size_t)((const uint8_t *)memchr(d, '\n', len) - d) + 1;
		/* UNSAFE: read_message() ends every line with CRLF */
	}
	sm->hdr_start = pos;
	while (pos < len) {
		eol = (size_t)((const uint8_t *)memchr(d + pos, '\n',
		    len - pos) - d);	/* UNSAFE: every line ends with LF */
		if (eol == pos + 1 && d[pos] == '\r') {
			sm->body_start = eol + 1;	/* the empty line */
			return;
		}
		if (d[pos] == ' ' || d[pos] == '\t') {
			if (sm->nfields == 0)
				break;		/* body without a header */
			sm->fields[sm->nfields - 1].end = eol + 1;
			pos = eol + 1;
			continue;
		}
		for (k = pos; k < eol && d[k] > ' ' && d[k] < 127 &&
		    d[k] != ':'; k++)
			;
		if (k == pos || k >= eol || d[k] != ':')
			break;			/* not a field: the body */
		if (sm->nfields == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			sm->fields = xreallocarray(sm->fields, cap,
			    sizeof(*sm->fields));
		}
		sm->fields[sm->nfields++] = (struct sm_field){ pos, eol + 1,
		    k - pos };
		pos = eol + 1;
	}
	sm->body_start = pos;
}

static bool
field_is(const struct sendmail *sm, const struct sm_field *f,
    const char *name)
{
	return f->name_len == strlen(name) && strncasecmp((const char *)
	    sm->msg.data + f->start, name, f->name_len) == 0;
}

/* -t: the recipients of To:, Cc: and Bcc:, unfolded. */
static int
extract_rcpts(struct sendmail *sm)
{
	static const char *const names[] = { "To", "Cc", "Bcc" };
	const struct sm_field *f;
	struct buf value;
	size_t i, j, k;
	const uint8_t *d = sm->msg.data;
	int rc = 0;

	buf_init(&value, sm->msg.max);
	for (i = 0; i < sm->nfields && rc == 0; i++) {
		f = &sm->fields[i];
		for (j = 0; j < 3 && !field_is(sm, f, names[j]); j++)
			;
		if (j == 3)
			continue;
		buf_reset(&value);
		for (k = f->start + f->name_len + 1; k < f->end; k++)
			if (d[k] != '\r' && d[k] != '\n' &&
			    buf_append(&value, &d[k], 1) == -1)
				panic("header value larger than the message");
		rc = add_rcpt_list(sm, buf_cstr(&value), value.len, names[j]);
	}
	buf_deinit(&value);
	return rc;
}

/* The -F name as a phrase: plain, quoted, or RFC 2047 for non-ASCII. */
static int
put_fullname(struct buf *b, const char *name)
{
	char enc[BASE64_ENCODED_LEN(WORD_CHUNK)];
	size_t len = strlen(name), i, n;
	bool ascii = true, quote = false;
	int bad = 0;

	for (i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -1;
		if ((unsigned char)name[i] >= 0x80)
			ascii = false;
		if (strchr("()<>[]:;@\\,.\"", name[i]) != NULL)
			quote = true;
	}
	if (ascii && !quote)
		return buf_printf(b, "%s", name);
	if (ascii) {
		bad |= buf_append(b, "\"", 1);
		for (i = 0; i < len; i++) {
			if (name[i] == '"' || name[i] == '\\')
				bad |= buf_append(b, "\\", 1);
			bad |= buf_append(b, &name[i], 1);
		}
		return bad | buf_append(b, "\"", 1);
	}
	for (i = 0; i < len; i += n) {
		/* Whole UTF-8 characters per word: never split one. */
		n = len - i < WORD_CHUNK ? len - i : WORD_CHUNK;
		while (n > 1 && i + n < len &&
		    ((unsigned char)name[i + n] & 0xc0) == 0x80)
			n--;
		base64_encode((const uint8_t *)name + i, n, enc);
		bad |= buf_printf(b, "%s=?UTF-8?B?%s?=", i == 0 ? "" :
		    "\r\n ", enc);
	}
	return bad;
}

/* From:, Date: and Message-ID: when the message has none. */
static int
add_headers(struct sendmail *sm)
{
	bool from = false, date = false, msgid = false;
	char stamp[64], day[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;
	int bad = 0;

	for (i = 0; i < sm->nfields; i++) {
		from |= field_is(sm, &sm->fields[i], "From");
		date |= field_is(sm, &sm->fields[i], "Date");
		msgid |= field_is(sm, &sm->fields[i], "Message-ID");
	}
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0 || strftime(day, sizeof(day), "%Y%m%d%H%M%S", &tm) == 0)
		fatalx("cannot format the date");
	buf_init(&sm->added, 4096);
	if (!from) {
		bad |= buf_append_str(&sm->added, "From: ");
		if (sm->o.fullname != NULL) {
			if (strlen(sm->o.fullname) > FULLNAME_MAX ||
			    put_fullname(&sm->added, sm->o.fullname) == -1) {
				cli_error("-F: control characters, or longer "
				    "than %d bytes", FULLNAME_MAX);
				return -1;
			}
			bad |= buf_append_str(&sm->added, " <");
		}
		if (*sm->sender != '\0')
			bad |= buf_append_str(&sm->added, sm->sender);
		else
			bad |= buf_printf(&sm->added, "MAILER-DAEMON@%s",
			    sm->cfg->hostname);
		bad |= buf_append_str(&sm->added, sm->o.fullname != NULL ?
		    ">\r\n" : "\r\n");
	}
	if (!date)
		bad |= buf_printf(&sm->added, "Date: %s\r\n", stamp);
	if (!msgid)
		bad |= buf_printf(&sm->added, "Message-ID: <%s.%s@%s>\r\n", day,
		    sm->id, sm->cfg->hostname);
	if (bad != 0)
		panic("added header fields larger than their buffer");
	return 0;
}

/* ------------------------------------------------------------ maildrop */

static void
make_id(char id[QUEUE_ID_LEN + 1])
{
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	snprintf(id, QUEUE_ID_LEN + 1, "%016llX", (unsigned long long)rnd);
}
/* What goes into the queue after the envelope: the header without Bcc:,
 * the added fields, the empty line and the body. */
static uint64_t
content_size(const struct sendmail *sm)
{
	uint64_t n = sm->added.len + 2 + (sm->msg.len - sm->body_start);
	size_t i;

	for (i = 0; i < sm->nfields; i++)
		if (!field_is(sm, &sm->fields[i], "Bcc"))
			n += sm->fields[i].end - sm->fields[i].start;
	return n;
}

static int
write_file(struct sendmail *sm, int fd)
{
	const uint8_t *d = sm->msg.data;
	struct buf env;
	size_t i, lim = 4096 + strlen(sm->sender);
	int bad = 0;

	for (i = 0; i < sm->rcpts.n; i++)
		lim += strlen(sm->rcpts.v[i]) + 3;
	buf_init(&env, lim);
	bad |= buf_printf(&env, "V 1\nI %s\nT %lld\nS %s\n", sm->id,
	    (long long)time(NULL), sm->sender);
	for (i = 0; i < sm->rcpts.n; i++)
		bad |= buf_printf(&env, "R %s\n", sm->rcpts.v[i]);
	bad |= buf_append_str(&env, "P LOCAL\nC localhost\n\n");
	if (bad != 0)
		panic("envelope larger than its limit");
	bad = write_all(fd, env.data, env.len);
	buf_deinit(&env);
	for (i = 0; i < sm->nfields && bad == 0; i++)
		if (!field_is(sm, &sm->fields[i], "Bcc"))
			bad = write_all(fd, d + sm->fields[i].start,
			    sm->fields[i].end - sm->fields[i].start);
	if (bad == 0 && sm->added.len > 0)
		bad = write_all(fd, sm->added.data, sm->added.len);
	if (bad == 0)
		bad = write_all(fd, "\r\n", 2);
	if (bad == 0 && sm->msg.len > sm->body_start)
		bad = write_all(fd, d + sm->body_start,
		    sm->msg.len - sm->body_start);
	return bad;
}

static const char *
errno_reason(int e)
{
	return e == ENOSPC || e == EDQUOT ? "disk full" : strerror(e);
}

/* Write maildrop/.ID.tmp, fsync, rename it to maildrop/ID (never over
 * another file), sync the folder when we may, wake the manager. The
 * folder is opened O_PATH: a user may search it (1733) but not list it.
 * Signals that would leave a half-written file wait until it is named. */
static int
drop(struct sendmail *sm, const char *queue_dir)
{
	char tmp[QUEUE_ID_LEN + 8], *path;
	sigset_t block, old;
	int dfd, fd = -1, tries;

	path = xasprintf("%s/maildrop", queue_dir);
	dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		cli_error("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	make_id(sm->id);	/* for the Message-ID; kept unless taken */
	if (add_headers(sm) == -1)
		goto fail_early;
	if (content_size(sm) > sm->cfg->max_message_size) {
		cli_error("message too large (max_message_size is %llu bytes)",
		    (unsigned long long)sm->cfg->max_message_size);
		goto fail_early;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (tries = 0; fd == -1 && tries < CREATE_TRIES; tries++) {
		if (tries > 0)
			make_id(sm->id);
		snprintf(tmp, sizeof(tmp), ".%s.tmp", sm->id);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		cli_error("%s: %s", path, errno_reason(errno));
		goto fail;
	}
	/* The manager runs as another user: readable whatever the umask. */
	if (fchmod(fd, 0644) == -1 || write_file(sm, fd) == -1 ||
	    fsync(fd) == -1) {
		cli_error("%s/%s: %s", path, tmp, errno_reason(errno));
		goto fail_unlink;
	}
	if (close(fd) == -1) {
		fd = -1;
		cli_error("%s/%s: %s", path, tmp, errno_reason(errno));
		goto fail_unlink;
	}
	fd = -1;
	if (renameat2(dfd, tmp, dfd, sm->id, RENAME_NOREPLACE) == -1 &&
	    (errno != EINVAL || renameat(dfd, tmp, dfd, sm->id) == -1)) {
		cli_error("%s/%s: %s", path, sm->id, errno_reason(errno));
		goto fail_unlink;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(dfd);
	/* Best effort: the file itself is on disk, and a user who is not
	 * the owner cannot open the folder for reading to sync it. */
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(path);
	queue_notify(queue_dir, 'W');
	return 0;
fail_unlink:
	if (fd != -1)
		close(fd);
	unlinkat(dfd, tmp, 0);
fail:
	sigprocmask(SIG_SETMASK, &old, NULL);
fail_early:
	close(dfd);
	free(path);
	return -1;
}

/* ------------------------------------------------------------ entry */

static void
sendmail_free(struct sendmail *sm)
{
	free(sm->sender);
	strv_free(&sm->rcpts);
	buf_deinit(&sm->msg);
	buf_deinit(&sm->added);
	free(sm->fields);
}

int
cmd_sendmail(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct sendmail sm;
	struct config cfg;
	char *queue_dir;
	int i, first, rc = CLI_FAIL;

	/* Not cli_help(): -h is sendmail's hop count. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: postie [-c FILE] %s %s\n\n%s", cmd->name,
			    cmd->usage, cmd->help);
			return CLI_OK;
		}
	}
	memset(&sm, 0, sizeof(sm));
	if (parse_args(&sm.o, argc, argv, &first) == -1)
		return CLI_FAIL;
	if (sm.o.mailq)
		return cli_mailq();
	if (cli_load_config(&cfg) == -1)
		return CLI_FAIL;
	sm.cfg = &cfg;
	buf_init(&sm.msg, cfg.max_message_size);
	if (set_sender(&sm) == -1)
		goto out;
	for (i = first; i < argc; i++)
		if (add_rcpt_list(&sm, argv[i], strlen(argv[i]), argv[i]) == -1)
			goto out;
	if (read_message(&sm.msg, sm.o.ignore_dots) == -1)
		goto out;
	split_header(&sm);
	if (sm.o.extract && extract_rcpts(&sm) == -1)
		goto out;
	if (sm.rcpts.n == 0) {
		cli_error("no recipients");
		goto out;
	}
	queue_dir = xasprintf("%s/queue", cfg.data_dir);
	if (drop(&sm, queue_dir) == 0)
		rc = CLI_OK;
	free(queue_dir);
out:
	sendmail_free(&sm);
	conf_free(&cfg);
	return rc;
}
