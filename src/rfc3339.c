/*-------------------------------------------------------------------------
 *
 * rfc3339.c
 *	  RFC 3339 timestamps, read without PostgreSQL's general parser.
 *
 * YYYY-MM-DD(T|t| )hh:mm:ss[.frac](Z|z|+hh:mm|-hh:mm): what JSON
 * serialisers write.  Two readers need it:
 *
 *	- the derived tables' rules (derive.c), for timestamps inside payloads:
 *	  there the form is the definition.  Nothing reads TimeZone or
 *	  DateStyle, there are no special values (now, today, infinity), so a
 *	  derived row is a function of its event alone.  Leap seconds (ss = 60)
 *	  are refused rather than folded into the next minute; fractions finer
 *	  than a microsecond are rounded half up.
 *	- a JSON batch's ts (batch.c), which must read every value exactly as
 *	  timestamptz_in does, only faster: timestamptz_in goes through a
 *	  tokenizer, DateStyle and zone lookups, about 3,000 instructions a
 *	  value, as much as a whole index insertion.  With
 *	  EVLOG_RFC3339_AS_TIMESTAMPTZ_IN the reader also refuses what
 *	  timestamptz_in refuses or reads differently within the form (an
 *	  offset beyond 15:59 hours, a seventh fraction digit: it rounds the
 *	  fraction as a double), and the caller hands every refused string to
 *	  timestamptz_in, so values and errors are always timestamptz_in's.
 *	  sql/batch_ts.sql compares the two over generated values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datetime.h"

#include "rfc3339.h"

/* timestamptz_in refuses a displacement of more hours than this */
#define TIMESTAMPTZ_IN_MAX_OFFSET_HOURS	15

/* n decimal digits at *p; false if any is not a digit */
static bool
read_digits(const char **p, const char *end, int n, int *result)
{
	int			v = 0;

	if (end - *p < n)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*result = v;
	return true;
}

/*
 * Read s (len bytes, not NUL-terminated) into *result; false if it is not
 * in the form (or, with EVLOG_RFC3339_AS_TIMESTAMPTZ_IN, not in the part of
 * it timestamptz_in reads the same way).
 */
bool
evlog_parse_rfc3339(const char *s, int len, int flags, TimestampTz *result)
{
	bool		as_in = (flags & EVLOG_RFC3339_AS_TIMESTAMPTZ_IN) != 0;
	const char *p = s;
	const char *end = s + len;
	struct pg_tm tm;
	fsec_t		fsec = 0;
	int			tz = 0;
	int			oh,
				om;
	Timestamp	ts;

	memset(&tm, 0, sizeof(tm));
	if (!read_digits(&p, end, 4, &tm.tm_year) || p == end || *p++ != '-' ||
		!read_digits(&p, end, 2, &tm.tm_mon) || p == end || *p++ != '-' ||
		!read_digits(&p, end, 2, &tm.tm_mday) || p == end ||
		(*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!read_digits(&p, end, 2, &tm.tm_hour) || p == end || *p++ != ':' ||
		!read_digits(&p, end, 2, &tm.tm_min) || p == end || *p++ != ':' ||
		!read_digits(&p, end, 2, &tm.tm_sec))
		return false;
	if (p < end && *p == '.')
	{
		int			scale = 100000;
		int			ndigits = 0;

		for (p++; p < end && *p >= '0' && *p <= '9'; p++, ndigits++)
		{
			if (ndigits < 6)
				fsec += (*p - '0') * scale;
			else if (as_in)
				return false;
			else if (ndigits == 6 && *p >= '5')
				fsec++;			/* round half up at the microsecond */
			scale /= 10;
		}
		if (ndigits == 0)
			return false;
	}
	if (p == end)
		return false;			/* the offset is not optional */
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = *p++ == '-' ? -1 : 1;

		if (!read_digits(&p, end, 2, &oh) || p == end || *p++ != ':' ||
			!read_digits(&p, end, 2, &om) || oh > 23 || om > 59 ||
			(as_in && oh > TIMESTAMPTZ_IN_MAX_OFFSET_HOURS))
			return false;
		/* tm2timestamp wants seconds west of Greenwich */
		tz = -sign * (oh * SECS_PER_HOUR + om * SECS_PER_MINUTE);
	}
	else
		return false;
	if (p != end)
		return false;

	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > MONTHS_PER_YEAR ||
		tm.tm_mday < 1 || tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	if (tm2timestamp(&tm, fsec, &tz, &ts) != 0 || !IS_VALID_TIMESTAMP(ts))
		return false;
	*result = ts;
	return true;
}
