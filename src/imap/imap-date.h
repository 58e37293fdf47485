/* imap/imap-date: IMAP dates and date-times (RFC 3501 section 9: "date",
 * "date-time") and the calendar day of an RFC 5322 Date: field, for
 * SEARCH (BEFORE ON SINCE, SENT*), APPEND's internal date and the
 * INTERNALDATE fetch item. Pure; month names are English whatever the
 * locale.
 *
 * Days are counted from 1970-01-01 in the proleptic Gregorian calendar,
 * with no time of day and no timezone: SEARCH compares dates that way
 * (RFC 3501 section 6.4.4: "disregarding time and timezone").
 */
#ifndef POSTIE_IMAP_DATE_H
#define POSTIE_IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IMAP_DATETIME_LEN	26	/* "17-Jul-1996 02:44:25 -0700" */

/* The day number of y-m-d (m 1..12, d 1..31; not checked). */
int64_t	imap_days_from_civil(int64_t y, unsigned m, unsigned d);

/* "1-Feb-1994" or "01-Feb-1994" (the caller removes the quotes of a
 * quoted date): years 1..9999, the day must exist in that month. */
int	imap_date_parse(const char *s, size_t len, int64_t *day_r)
	    __attribute__((warn_unused_result));

/*
 * "17-Jul-1996 02:44:25 -0700" (APPEND; without the quotes). The day may
 * be " 7", "07" or "7". *t_r is the instant; *zone_r, if not NULL, gets the
 * zone in minutes east of UTC.
 */
int	imap_datetime_parse(const char *s, size_t len, time_t *t_r,
	    int *zone_r) __attribute__((warn_unused_result));

/* t as an INTERNALDATE in the server's local time, NUL-terminated (out
 * holds at least IMAP_DATETIME_LEN + 1 octets). */
void	imap_datetime_format(time_t t, char *out, size_t outlen);

/* The calendar day of t in the server's local time. */
int64_t	imap_local_day(time_t t);

/*
 * The calendar day written in an RFC 5322 date ("Tue, 1 Jul 2003 10:52:37
 * +0200", obsolete forms too: two-digit years, comments, no weekday), as
 * written, ignoring time and zone. -1 if none can be read.
 */
int	imap_rfc5322_day(const char *s, size_t len, int64_t *day_r)
	    __attribute__((warn_unused_result));

#endif
