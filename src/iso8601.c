/*-------------------------------------------------------------------------
 *
 * iso8601.c
 *	  The timestamps of JSON batches, read without the general parser.
 *
 * A batch in its jsonb form carries each event's ts as a string, nearly
 * always in the one form JSON serialisers write (RFC 3339: 2026-05-16T01:
 * 00:00Z, 2026-05-16T01:00:00.123+02:00).  timestamptz_in reads any form
 * PostgreSQL accepts, through a tokenizer, DateStyle and time zone lookups,
 * at about 3,000 instructions a value: as much as a whole index insertion.
 * evlog_iso8601_to_timestamptz reads that one form only, and says "not
 * mine" (false) for anything else, which the caller then hands to
 * timestamptz_in; so every value is read exactly as timestamptz_in reads
 * it, and every error is timestamptz_in's.
 *
 * The form: YYYY-MM-DD, "T" or " ", hh:mm:ss, optionally "." and 1 to 6
 * digits, then "Z" or +hh:mm / -hh:mm; nothing before or after.  Within it,
 * whatever timestamptz_in would refuse or read differently is left to it
 * too: year 0, a day the month does not have, hour 24, second 60 (both
 * roll over), an offset beyond 15:59 hours.  An explicit zone makes the
 * value independent of the session's TimeZone and DateStyle, as it is for
 * timestamptz_in.  sql/batch.sql compares the two over generated values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datetime.h"

#include "iso8601.h"

/* n decimal digits at s, or -1 if any is not a digit */
static int
digits(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
evlog_iso8601_to_timestamptz(const char *s, int len, TimestampTz *result)
{
	int			year,
				month,
				day,
				hour,
				min,
				sec;
	int64		usec = 0;
	int			zone_secs = 0;	/* east of UTC */
	int			p = 19;

	/* YYYY-MM-DDThh:mm:ss is 19 characters; "Z" is the shortest zone */
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	year = digits(s, 4);
	month = digits(s + 5, 2);
	day = digits(s + 8, 2);
	hour = digits(s + 11, 2);
	min = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1] ||
		hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return false;

	if (s[p] == '.')
	{
		int			start = ++p;
		int64		scale = USECS_PER_SEC;

		while (p < len && s[p] >= '0' && s[p] <= '9' && p - start < 6)
		{
			scale /= 10;
			usec += (s[p] - '0') * scale;
			p++;
		}
		/* no digit, or a seventh (timestamptz_in rounds it) */
		if (p == start || (p < len && s[p] >= '0' && s[p] <= '9'))
			return false;
	}

	if (p == len - 1 && s[p] == 'Z')
		zone_secs = 0;
	else if (p == len - 6 && (s[p] == '+' || s[p] == '-') && s[p + 3] == ':')
	{
		int			zh = digits(s + p + 1, 2);
		int			zm = digits(s + p + 4, 2);

		if (zh < 0 || zh > 15 || zm < 0 || zm > 59)
			return false;
		zone_secs = (zh * SECS_PER_HOUR + zm * SECS_PER_MINUTE) * (s[p] == '-' ? -1 : 1);
	}
	else
		return false;

	*result = ((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * SECS_PER_DAY +
			   hour * SECS_PER_HOUR + min * SECS_PER_MINUTE + sec - zone_secs) * USECS_PER_SEC +
		usec;
	return true;
}
