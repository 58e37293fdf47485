/* header-date: RFC 5322 date-time, for SEARCH SENTBEFORE/SENTON/SENTSINCE
 * and as a fallback INTERNALDATE (see header.h).
 *
 *   [day-name ","] day month year hour ":" minute [":" second] [zone]
 *
 * with the obsolete forms of section 4.3 (comments anywhere, two- and
 * three-digit years, named zones, military zones read as +0000) and the
 * asctime() form "Tue Jul  1 10:52:37 2003". The value is split into at
 * most MAX_TOKENS tokens of at most TOKEN_MAX octets; anything longer is
 * not a date. The computation is done here, independent of TZ and locale. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/header.h"

#define MAX_TOKENS	10
#define TOKEN_MAX	16

struct tok {
	char	s[TOKEN_MAX + 1];
};

struct when {
	int	year, mon, day, hour, min, sec, tz;
};

static size_t	tokenize(const char *s, size_t len, struct tok *t);
static int	month_of(const char *s);
static bool	is_day_name(const char *s);
static bool	number(const char *s, size_t maxdigits, int *r);
static bool	parse_time(const char *s, struct when *w);
static bool	parse_zone(const char *s, int *tz_r);
static bool	parse_year(const char *s, int *year_r);
static int64_t	days_from_civil(int64_t y, unsigned m, unsigned d);

/* Split on white space and commas, dropping comments. Returns the number
 * of tokens, or MAX_TOKENS + 1 for too many or too long. */
static size_t
tokenize(const char *s, size_t len, struct tok *t)
{
	size_t i = 0, n = 0, k, depth;

	while (i < len) {
		if (s[i] == '(') {
			for (depth = 0; i < len; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0)
					break;
			}
			i++;
			continue;
		}
		if (strchr(" \t\r\n,", s[i]) != NULL || s[i] == '\0') {
			i++;
			continue;
		}
		if (n >= MAX_TOKENS)
			return MAX_TOKENS + 1;
		for (k = 0; i < len && s[i] != '\0' && s[i] != '(' &&
		    strchr(" \t\r\n,", s[i]) == NULL; i++, k++) {
			if (k >= TOKEN_MAX)
				return MAX_TOKENS + 1;
			t[n].s[k] = s[i];
		}
		t[n++].s[k] = '\0';
	}
	return n;
}

static int
month_of(const char *s)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	size_t i;

	if (strlen(s) < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncasecmp(s, names + i * 3, 3) == 0)
			return (int)i;
	return -1;
}

static bool
is_day_name(const char *s)
{
	static const char names[] = "montuewedthufrisatsun";
	size_t i;

	if (strlen(s) < 3)
		return false;
	for (i = 0; i < 7; i++)
		if (strncasecmp(s, names + i * 3, 3) == 0)
			return true;
	return false;
}

/* 1..maxdigits decimal digits, the whole string. */
static bool
number(const char *s, size_t maxdigits, int *r)
{
	size_t i;
	int v = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= maxdigits)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*r = v;
	return i > 0;
}

/* "hh:mm" or "hh:mm:ss". */
static bool
parse_time(const char *s, struct when *w)
{
	char part[3][TOKEN_MAX + 1];
	size_t n = 0, k = 0;

	memset(part, 0, sizeof(part));
	for (; *s != '\0'; s++) {
		if (*s == ':') {
			if (++n >= 3)
				return false;
			k = 0;
		} else if (k < 2)
			part[n][k++] = *s;
		else
			return false;
	}
	if (n < 1 || !number(part[0], 2, &w->hour) ||
	    !number(part[1], 2, &w->min))
		return false;
	w->sec = 0;
	if (n == 2 && !number(part[2], 2, &w->sec))
		return false;
	return w->hour <= 23 && w->min <= 59 && w->sec <= 60;
}

static bool
parse_zone(const char *s, int *tz_r)
{
	static const struct {
		const char	*name;
		int		 hours;
	} names[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	size_t i;
	int v;

	if ((s[0] == '+' || s[0] == '-') && strlen(s) == 5 &&
	    number(s + 1, 4, &v)) {
		if (v % 100 > 59)
			return false;
		*tz_r = (v / 100 * 60 + v % 100) * (s[0] == '-' ? -1 : 1);
		return true;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*tz_r = names[i].hours * 60;
			return true;
		}
	/* Military zones are too often wrong to use (RFC 5322 4.3). */
	if (strlen(s) == 1 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
		*tz_r = 0;
		return true;
	}
	return false;
}

/* RFC 5322 4.3: two digits are 1950..2049, three are added to 1900. */
static bool
parse_year(const char *s, int *year_r)
{
	size_t n = strlen(s);
	int y;

	if (!number(s, 4, &y))
		return false;
	if (n == 2)
		y += y < 50 ? 2000 : 1900;
	else if (n == 3)
		y += 1900;
	*year_r = y;
	return y >= 1900;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the well-known
 * era-based method; m is 1..12). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
header_date_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	struct tok t[MAX_TOKENS];
	struct when w;
	size_t n, i = 0;
	int64_t days, secs;
	bool leap;

	memset(&w, 0, sizeof(w));
	n = tokenize(s, len, t);
	if (n > MAX_TOKENS)
		return -1;
	if (i < n && is_day_name(t[i].s) && month_of(t[i].s) == -1)
		i++;
	if (n - i < 4)
		return -1;
	if ((w.mon = month_of(t[i].s)) != -1) {
		/* asctime(): month day time year [zone] */
		if (!number(t[i + 1].s, 2, &w.day) ||
		    !parse_time(t[i + 2].s, &w) ||
		    !parse_year(t[i + 3].s, &w.year))
			return -1;
		i += 4;
	} else {
		if (!number(t[i].s, 2, &w.day) ||
		    (w.mon = month_of(t[i + 1].s)) == -1 ||
		    !parse_year(t[i + 2].s, &w.year) ||
		    !parse_time(t[i + 3].s, &w))
			return -1;
		i += 4;
	}
	/* A missing or unknown zone is -0000: the time as it stands. */
	if (i < n && !parse_zone(t[i].s, &w.tz))
		w.tz = 0;
	leap = (w.year % 4 == 0 && w.year % 100 != 0) || w.year % 400 == 0;
	if (w.day < 1 || w.day > mdays[w.mon] ||
	    (w.mon == 1 && w.day == 29 && !leap))
		return -1;
	if (w.sec == 60)
		w.sec = 59;
	days = days_from_civil(w.year, (unsigned)w.mon + 1, (unsigned)w.day);
	secs = days * 86400 + w.hour * 3600 + w.min * 60 + w.sec -
	    (int64_t)w.tz * 60;
	if ((int64_t)(time_t)secs != secs)
		return -1;
	*t_r = (time_t)secs;
	*tz_min_r = w.tz;
	return 0;
}
