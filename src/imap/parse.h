/* imap/parse: the IMAP command reader. An incremental state machine over
 * the client's byte stream, fed pieces split at any octet, that turns each
 * command (RFC 3501 section 9, LITERAL+ / LITERAL- of RFC 7888) into a tag,
 * an upper-cased command name and a tree of arguments. Called by the IMAP
 * session for every octet it reads; pure, no I/O, no logging. Which
 * commands exist and what arguments they take is the command table's
 * business: it checks the tree with the imap_arg_*() getters below.
 *
 * Protocol decisions:
 *   - tag SP name [SP arg *(SP arg)] CRLF, single spaces. "UID" takes the
 *     next word as the command ("UID FETCH" is FETCH with cmd->uid).
 *     Empty lines between commands are ignored.
 *   - An argument is an atom, a quoted string, a literal, or a
 *     parenthesized list. Atoms are the octets 0x21-0x7e except ( ) { and
 *     DQUOTE, so flags (\Seen), list wildcards (% *), sequence sets (1:*)
 *     and "]" fit in one; the getters check each use's exact character
 *     class. An atom may hold one bracketed section, parsed as arguments
 *     (FETCH's BODY.PEEK[HEADER.FIELDS (From To)]<0.100>; also a mailbox
 *     such as [Gmail]/Sent); str keeps the whole token as written.
 *     Literals are not allowed inside a section.
 *   - Quoted strings take \" and \\ escapes only, and octets above 0x7f
 *     only as well-formed UTF-8 (RFC 6855); literals may hold any octet
 *     but NUL (CHAR8).
 *   - NUL, a bare CR, a CR not followed by LF, or a line ending in a bare
 *     LF is an error.
 *   - Limits (struct imap_limits): non-literal octets per command
 *     (line_max, counting CRLFs and literal headers), nesting of lists and
 *     sections (depth_max), arguments per command counting every list and
 *     element (args_max), literals per command (literals_max), octets of
 *     literals kept in memory per command (literal_mem_max), and literal
 *     sizes: the number in {n} must fit in 32 bits.
 *
 * Literals. When a literal header "{n}" or "{n+}" and its CRLF have been
 * read, imap_parser_feed() returns PARSE_DONE with imap_parser_literal()
 * describing it, and the caller picks one of:
 *   - imap_parser_literal_accept(): the parser reads the n octets into
 *     memory (a synchronizing literal needs "+ OK" sent first);
 *   - imap_parser_literal_stream(): the next n octets of the stream belong
 *     to the caller (an APPEND message going to a file); it feeds the
 *     parser again from the octet after them. The argument is a
 *     IMAP_ARG_LITERAL with streamed set and no data;
 *   - imap_parser_literal_refuse(): the caller answers the command itself
 *     (NO [TOOBIG], BAD) and the command is dropped. For a synchronizing
 *     literal the client sends nothing more of it (RFC 3501 section 7.5),
 *     so the next octet starts a new command. A non-synchronizing one is
 *     already on its way: its octets and the rest of the command are
 *     discarded, or, when n is above literal_discard_max, the function
 *     returns -1 and the caller closes the connection (RFC 7888 section 4:
 *     reject, then discard or close).
 * Nothing is allocated from n: an accepted literal grows as octets arrive.
 * A literal over the parser's own limits (count, memory, 32 bits) is
 * refused by the parser as an error, and never shown to the caller.
 *
 * Errors and resynchronization. On an error the parser keeps reading to
 * the end of the bad command, then returns PARSE_ERROR once, with
 * imap_parser_error() giving the tag (if one was read) and a short text
 * for "tag BAD text" (or "* BAD text"). The end of the bad command is the
 * end of its line, where a line that ends in a literal header does not
 * end it: after "{n+}" CRLF the n octets are skipped and the command goes
 * on (the client sends them without waiting), while after "{n}" CRLF the
 * command ends, since the client waits for a "+" that never comes and
 * then sees the BAD. When the rest cannot be skipped (a non-synchronizing
 * literal above literal_discard_max, or a size above 32 bits) the error
 * comes at once with close set: answer "* BYE text" and close.
 */
#ifndef POSTIE_IMAP_PARSE_H
#define POSTIE_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/parse.h"

struct pool;

#define IMAP_LINE_MAX		65536	/* after login (DESIGN) */
#define IMAP_LINE_MAX_PREAUTH	8192	/* before login (DESIGN) */
#define IMAP_DEPTH_MAX		32	/* after login (DESIGN) */
#define IMAP_DEPTH_MAX_PREAUTH	1
#define IMAP_ARGS_MAX		10000
#define IMAP_LITERALS_MAX	256
#define IMAP_LITERAL_MEM_MAX	(UINT64_C(4) << 20)
#define IMAP_LITERAL_DISCARD_MAX (UINT64_C(64) << 20)
#define IMAP_TAG_MAX		128
#define IMAP_NAME_MAX		32

struct imap_limits {
	size_t		 line_max;	/* non-literal octets per command */
	unsigned	 depth_max;	/* lists and sections nested */
	unsigned	 args_max;	/* arguments, all levels */
	unsigned	 literals_max;	/* per command */
	uint64_t	 literal_mem_max; /* accepted in memory, per command */
	uint64_t	 literal_discard_max; /* refused {n+}: skip, or close */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_NIL,		/* the atom NIL in any case */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

/*
 * One argument. Strings are NUL-terminated and hold no NUL, so str is a C
 * string whose length is len. Everything is in the command's pool.
 */
struct imap_arg {
	enum imap_arg_type type;
	const char	*str;		/* ATOM, NIL: as written, section
					   included; QUOTED: unescaped;
					   LITERAL: the octets, or NULL when
					   streamed; LIST: NULL */
	size_t		 len;		/* of str; streamed LITERAL: its
					   size */
	const struct imap_arg *list;	/* LIST: count elements */
	size_t		 count;
	bool		 streamed;	/* LITERAL: the caller took it */
	bool		 nonsync;	/* LITERAL: written {n+} */
	/* ATOM with a bracketed section, "BODY.PEEK[1 (A)]<0.9>": */
	bool		 bracket;	/* the atom had [...] */
	size_t		 name_len;	/* octets before "[" ("BODY.PEEK") */
	const struct imap_arg *section;	/* the section's arguments */
	size_t		 section_count;
	const char	*suffix;	/* after "]": "<0.9>", or "" */
};

struct imap_cmd {
	const char	*tag;
	const char	*name;		/* upper-cased, without "UID " */
	bool		 uid;		/* UID FETCH, UID STORE, ... */
	const struct imap_arg *args;
	size_t		 count;
	unsigned	 literals;	/* how many were read or streamed */
	struct pool	*pool;		/* owns all of the above */
};

/* A literal header waiting for the caller's decision. */
struct imap_literal {
	uint64_t	 size;
	bool		 sync;		/* {n}: send "+ OK" before reading */
	const char	*tag;
	const char	*name;		/* the command, upper-cased */
	bool		 uid;
	size_t		 index;		/* the argument's position in its
					   list (top level: in cmd->args) */
	unsigned	 depth;		/* 0: a top-level argument */
	unsigned	 number;	/* 1 for the command's first literal */
	uint64_t	 mem_used;	/* octets already accepted in memory */
};

struct imap_parse_error {
	const char	*tag;		/* NULL: no tag was read */
	const char	*text;		/* static; for BAD (or BYE) */
	bool		 close;		/* answer BYE and close */
};

struct imap_parser;

void	imap_limits_default(struct imap_limits *limits);
/* Before login: 8 KiB lines, one level of parentheses, 4 literals. */
void	imap_limits_preauth(struct imap_limits *limits);

/* Each command gets a child pool of pool, freed at the next feed: call
 * imap_parser_free() before pool_free(pool). limits is copied. */
struct imap_parser *imap_parser_new(struct pool *pool,
	    const struct imap_limits *limits);
void	imap_parser_free(struct imap_parser **parser);
/* New limits from the next command on (after LOGIN). */
void	imap_parser_set_limits(struct imap_parser *parser,
	    const struct imap_limits *limits);

/*
 * Feed p[0..len). *consumed_r is how many octets were used; the rest
 * belongs to the next call.
 *   PARSE_MORE   all of p was used; nothing to report.
 *   PARSE_DONE   a command is complete (imap_parser_cmd()), or a literal
 *                header waits for a decision (imap_parser_literal()).
 *   PARSE_ERROR  imap_parser_error(); the bad command has been skipped,
 *                unless close is set.
 * The command and the error stay valid until the next call. Feeding while
 * a literal waits for its decision, or after an error with close, is a
 * bug.
 */
enum parse_result imap_parser_feed(struct imap_parser *parser,
	    const uint8_t *p, size_t len, size_t *consumed_r)
	    __attribute__((warn_unused_result));

/* After PARSE_DONE: the command, or NULL when a literal waits. */
const struct imap_cmd *imap_parser_cmd(const struct imap_parser *parser);
/* After PARSE_DONE: the literal waiting, or NULL. */
const struct imap_literal *imap_parser_literal(
	    const struct imap_parser *parser);
/* While a literal waits: the arguments already read at its level (at the
 * top level the command's first ones, such as APPEND's mailbox, flags and
 * date before its message), for a caller that decides on them. Valid
 * until the decision. */
const struct imap_arg *imap_parser_literal_args(
	    const struct imap_parser *parser, size_t *count_r);
/* After PARSE_ERROR. */
const struct imap_parse_error *imap_parser_error(
	    const struct imap_parser *parser);

/* Read the waiting literal into memory. -1 if that would pass
 * literal_mem_max: refuse it instead. */
int	imap_parser_literal_accept(struct imap_parser *parser)
	    __attribute__((warn_unused_result));
/* The caller consumes the literal's octets from the stream itself. */
void	imap_parser_literal_stream(struct imap_parser *parser);
/* Drop the command; -1: the connection must be closed. */
int	imap_parser_literal_refuse(struct imap_parser *parser)
	    __attribute__((warn_unused_result));

/*
 * Getters for command tables: each returns false when the argument is not
 * of that kind, so a table can answer a precise BAD. NULL a is allowed
 * (a missing argument) and gives false.
 */
/* An atom (no section) made of ATOM-CHARs only; NIL counts. */
bool	imap_arg_atom(const struct imap_arg *a, const char **s_r);
/* An atom or NIL equal to word, ignoring ASCII case. */
bool	imap_arg_atom_is(const struct imap_arg *a, const char *word);
/* astring: ASTRING-CHAR atom (sections of plain atoms included, for
 * "[Gmail]"), NIL, quoted, or an in-memory literal. */
bool	imap_arg_astring(const struct imap_arg *a, const char **s_r,
	    size_t *len_r);
/* string: quoted or in-memory literal. */
bool	imap_arg_string(const struct imap_arg *a, const char **s_r,
	    size_t *len_r);
/* nstring: a string, or NIL (*s_r NULL, *len_r 0). */
bool	imap_arg_nstring(const struct imap_arg *a, const char **s_r,
	    size_t *len_r);
/* list-mailbox: like astring, with the wildcards % and * allowed in an
 * atom. */
bool	imap_arg_list_mailbox(const struct imap_arg *a, const char **s_r,
	    size_t *len_r);
/* number: 1*DIGIT up to 4294967295; nz_number also refuses 0. */
bool	imap_arg_number(const struct imap_arg *a, uint32_t *n_r);
bool	imap_arg_nz_number(const struct imap_arg *a, uint32_t *n_r);
/* number64: up to 2^63-1 (RFC 9051; MODSEQ, LARGER). */
bool	imap_arg_number64(const struct imap_arg *a, uint64_t *n_r);
bool	imap_arg_list(const struct imap_arg *a, const struct imap_arg **list_r,
	    size_t *count_r);

#endif
