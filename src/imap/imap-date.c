/* imap/imap-date: IMAP dates and date-times, INTERNALDATE output and the
 * day of an RFC 5322 Date: field (see imap-date.h). Calendar arithmetic is
 * done here on day numbers rather than with mktime(), so parsing does not
 * depend on the process's timezone. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "imap/imap-date.h"

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool	 is_digit(char c);
static int	 month_index(const char *s, size_t len);
static unsigned	 days_in_month(int64_t y, unsigned m);
static int	 read_digits(const char *s, size_t len, size_t *pos,
		    size_t min, size_t max, unsigned *n_r);
static int	 read_day_month_year(const char *s, size_t len, size_t *pos,
		    bool fixed_day, int64_t *day_r);
static size_t	 next_token(const char *s, size_t len, size_t *pos,
		    const char **tok_r);

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "Jan".."Dec", any case; -1 otherwise. */
static int
month_index(const char *s, size_t len)
{
	int i;

	if (len != 3)
		return -1;
	for (i = 0; i < 12; i++)
		if ((s[0] | 0x20) == (months[i][0] | 0x20) &&
		    (s[1] | 0x20) == months[i][1] &&
		    (s[2] | 0x20) == months[i][2])
			return i;
	return -1;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* min..max digits at s[*pos]. */
static int
read_digits(const char *s, size_t len, size_t *pos, size_t min, size_t max,
    unsigned *n_r)
{
	size_t i = *pos;
	unsigned n = 0;

	while (i < len && is_digit(s[i]) && i - *pos < max)
		n = n * 10 + (unsigned)(s[i++] - '0');
	if (i - *pos < min)
		return -1;
	*n_r = n;
	*pos = i;
	return 0;
}

/* day "-" Mon "-" yyyy; with fixed_day the day may also be " 7". */
static int
read_day_month_year(const char *s, size_t len, size_t *pos, bool fixed_day,
    int64_t *day_r)
{
	size_t i = *pos;
	unsigned d, y;
	int m;

	if (fixed_day && i < len && s[i] == ' ')
		i++;
	if (read_digits(s, len, &i, 1, 2, &d) == -1)
		return -1;
	if (i >= len || s[i++] != '-' || len - i < 4)
		return -1;
	if ((m = month_index(s + i, 3)) < 0)
		return -1;
	i += 3;
	if (i >= len || s[i++] != '-')
		return -1;
	if (read_digits(s, len, &i, 4, 4, &y) == -1 || y == 0)
		return -1;
	if (d < 1 || d > days_in_month(y, (unsigned)m + 1))
		return -1;
	*day_r = imap_days_from_civil(y, (unsigned)m + 1, d);
	*pos = i;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, int64_t *day_r)
{
	size_t pos = 0;

	if (read_day_month_year(s, len, &pos, false, day_r) == -1)
		return -1;
	return pos == len ? 0 : -1;
}

int
imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *zone_r)
{
	size_t pos = 0;
	int64_t day;
	unsigned hh, mm, ss, zh, zm;
	int sign, zone;

	if (read_day_month_year(s, len, &pos, true, &day) == -1)
		return -1;
	if (pos >= len || s[pos++] != ' ')
		return -1;
	if (read_digits(s, len, &pos, 2, 2, &hh) == -1 || pos >= len ||
	    s[pos++] != ':' ||
	    read_digits(s, len, &pos, 2, 2, &mm) == -1 || pos >= len ||
	    s[pos++] != ':' ||
	    read_digits(s, len, &pos, 2, 2, &ss) == -1)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (pos >= len || s[pos++] != ' ' || pos >= len)
		return -1;
	if (s[pos] == '+')
		sign = 1;
	else if (s[pos] == '-')
		sign = -1;
	else
		return -1;
	pos++;
	if (read_digits(s, len, &pos, 2, 2, &zh) == -1 ||
	    read_digits(s, len, &pos, 2, 2, &zm) == -1 || pos != len ||
	    zm > 59)
		return -1;
	zone = sign * (int)(zh * 60 + zm);
	*t_r = (time_t)(day * 86400 + hh * 3600 + mm * 60 + ss -
	    (int64_t)zone * 60);
	if (zone_r != NULL)
		*zone_r = zone;
	return 0;
}

void
imap_datetime_format(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	long off;
	int n;

	if (localtime_r(&t, &tm) == NULL) {
		t = 0;
		(void)gmtime_r(&t, &tm);
	}
	off = tm.tm_gmtoff / 60;
	n = snprintf(out, outlen, "%02d-%s-%04d %02d:%02d:%02d %c%02ld%02ld",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
	}
}

int64_t
imap_local_day(time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return (int64_t)t / 86400;
	return imap_days_from_civil((int64_t)tm.tm_year + 1900,
	    (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

/* The next word of an RFC 5322 date: white space, commas and (nested)
 * comments separate words. Returns its length, 0 at the end. */
static size_t
next_token(const char *s, size_t len, size_t *pos, const char **tok_r)
{
	size_t i = *pos, start;
	unsigned depth = 0;

	while (i < len) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && s[i] != ' ' && s[i] != '\t' &&
		    s[i] != ',' && s[i] != '\r' && s[i] != '\n')
			break;
		else if (depth > 0 && s[i] == '\\' && i + 1 < len)
			i++;
		i++;
	}
	start = i;
	while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != ',' &&
	    s[i] != '(' && s[i] != '\r' && s[i] != '\n')
		i++;
	*pos = i;
	*tok_r = s + start;
	return i - start;
}

int
imap_rfc5322_day(const char *s, size_t len, int64_t *day_r)
{
	const char *tok;
	size_t pos = 0, n, i;
	unsigned d, y = 0;
	int m;

	n = next_token(s, len, &pos, &tok);
	if (n > 0 && !is_digit(tok[0]))		/* day-of-week */
		n = next_token(s, len, &pos, &tok);
	if (n == 0 || n > 2)
		return -1;
	i = 0;
	if (read_digits(tok, n, &i, 1, 2, &d) == -1 || i != n)
		return -1;
	n = next_token(s, len, &pos, &tok);
	if ((m = month_index(tok, n)) < 0)
		return -1;
	n = next_token(s, len, &pos, &tok);
	i = 0;
	if (n < 2 || n > 4 || read_digits(tok, n, &i, n, n, &y) == -1)
		return -1;
	if (n == 2)		/* RFC 5322 section 4.3 */
		y += y < 50 ? 2000 : 1900;
	else if (n == 3)
		y += 1900;
	if (y == 0 || d < 1 || d > days_in_month(y, (unsigned)m + 1))
		return -1;
	*day_r = imap_days_from_civil(y, (unsigned)m + 1, d);
	return 0;
}
