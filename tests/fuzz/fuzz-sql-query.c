/* fuzz-sql-query: the SQL query compiler (placeholders into bound
 * parameters) on arbitrary text. The first byte picks the driver's marker
 * and the placeholders allowed; the rest is the query. A compiled query
 * must hold no marker-free placeholder and no more markers than it says. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory/dir-sql.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sql_query q;
	enum sql_marker marker;
	char *text, err[256];
	size_t i, j, marks;
	const char *p;

	if (size < 1 || size > SQL_QUERY_MAX + 64)
		return 0;
	marker = (data[0] & 1) ? SQL_MARK_QMARK : SQL_MARK_DOLLAR;
	/* A C string ends at the first NUL, as configuration text does. */
	text = xstrndup((const char *)data + 1, size - 1);
	if (sql_query_compile(text, marker, marker == SQL_MARK_QMARK,
	    (unsigned)data[0] >> 1, &q, err, sizeof(err)) == 0) {
		if (q.nstmts == 0 || q.nstmts > SQL_MAX_STMTS)
			abort();
		for (i = 0; i < q.nstmts; i++) {
			if (q.stmts[i].sql == NULL ||
			    q.stmts[i].nparams > SQL_MAX_PARAMS)
				abort();
			for (j = 0; j < q.stmts[i].nparams; j++)
				if (q.stmts[i].params[j] >= SQL_P_COUNT ||
				    ((unsigned)data[0] >> 1 &
				    SQL_PBIT(q.stmts[i].params[j])) == 0)
					abort();
			/* MySQL: every '?' outside text is one of ours. */
			marks = 0;
			if (marker == SQL_MARK_QMARK && strchr(q.stmts[i].sql,
			    '\'') == NULL && strchr(q.stmts[i].sql, '"') ==
			    NULL && strchr(q.stmts[i].sql, '`') == NULL &&
			    strchr(q.stmts[i].sql, '#') == NULL &&
			    strstr(q.stmts[i].sql, "--") == NULL &&
			    strstr(q.stmts[i].sql, "/*") == NULL) {
				for (p = q.stmts[i].sql; *p != '\0'; p++)
					marks += *p == '?';
				if (marks != q.stmts[i].nparams)
					abort();
			}
		}
		sql_query_free(&q);
	}
	free(text);
	return 0;
}
