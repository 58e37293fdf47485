/* parse: the result of every incremental protocol reader (SMTP DATA, IMAP
 * literals, POP3 lines). A reader returns exactly one of these. */
#ifndef POSTIE_PARSE_H
#define POSTIE_PARSE_H

enum parse_result {
	PARSE_DONE,	/* the item is complete; see the reader for how much
			   input it consumed */
	PARSE_MORE,	/* all input consumed, the item is not complete */
	PARSE_ERROR,	/* the input is not acceptable */
};

#endif
