/*-------------------------------------------------------------------------
 *
 * event.c
 *	  Validation of one event's fields, shared by every append path.
 *
 * A malformed row must never land: it would poison every later replay.  So
 * every path (single append, batch, enqueue) calls these checks before it
 * writes or queues anything, and each check raises an ERROR with a specific
 * SQLSTATE.  In a batch, "entry" is the event's 0-based index and every
 * error's detail starts with "entry N: " so the caller can find it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catcache.h"
#include "event.h"
#include "util.h"

/* "entry 3: " in a batch, "" for a single append */
char *
evlog_entry_prefix(int entry)
{
	return entry < 0 ? "" : psprintf("entry %d: ", entry);
}

void
evlog_require_not_null(bool isnull, const char *field, int entry)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", field),
				 entry >= 0 ? errdetail_internal("entry %d: %s is null", entry, field) : 0));
}

/*
 * Text arguments reach us already encoding-checked when they come from SQL
 * input, but not necessarily when built by other C code or binary I/O.  A
 * NUL byte would silently truncate the value when it is turned into a C
 * string (the payload parser takes one), so reject both here.
 */
void
evlog_check_text(text *value, const char *field, int entry)
{
	const char *s = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);

	if (!pg_verify_mbstr(GetDatabaseEncoding(), s, len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("%s contains a NUL byte or is not valid %s", field,
						GetDatabaseEncodingName()),
				 errdetail_internal("%s%s is rejected before anything is written", evlog_entry_prefix(entry), field)));
}

/*
 * How a text value appears in a message: at most EVLOG_SHOWN_BYTES bytes
 * (cut at a character boundary) and "..." when cut, so that a 1 MB kind
 * or id never makes a 1 MB message.
 */
#define EVLOG_SHOWN_BYTES	64

static char *
shown_text(text *value)
{
	const char *s = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	int			cut;

	if (len <= EVLOG_SHOWN_BYTES)
		return text_to_cstring(value);
	cut = pg_mbcliplen(s, len, EVLOG_SHOWN_BYTES);
	return psprintf("%.*s...", cut, s);
}

/*
 * kind, host_id, rollout_id and event_id are index keys: one longer than
 * EVLOG_MAX_ID_BYTES would fail at insert, after its seq was spent.
 */
static void
check_id_length(text *value, const char *field, int entry)
{
	int			len = VARSIZE_ANY_EXHDR(value);

	if (len > EVLOG_MAX_ID_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long", field),
				 errdetail_internal("%s%s is %d bytes (\"%s\"); the limit is %d bytes",
									evlog_entry_prefix(entry), field, len,
									shown_text(value), EVLOG_MAX_ID_BYTES)));
}

void
evlog_check_id(text *value, const char *field, int entry)
{
	check_id_length(value, field, entry);
	evlog_check_text(value, field, entry);
}

/*
 * The kind must be non-empty and registered in evlog.kinds.  A direct index
 * probe keeps this correct without any cache to invalidate: a kind
 * registered in this transaction, or committed by another before our
 * snapshot, is found.
 */
void
evlog_check_kind(text *kind, int entry)
{
	bool		found;

	evlog_check_id(kind, "kind", entry);
	if (VARSIZE_ANY_EXHDR(kind) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kind must not be empty"),
				 entry >= 0 ? errdetail_internal("entry %d: kind is empty", entry) : 0));

	found = evlog_kind_registered(kind);

	/* the hint is runnable SQL: the kind goes in as a quoted literal */
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event kind \"%s\"", shown_text(kind)),
				 errdetail_internal("%severy kind must be registered in evlog.kinds", evlog_entry_prefix(entry)),
				 VARSIZE_ANY_EXHDR(kind) <= EVLOG_SHOWN_BYTES ?
				 errhint("Register it first with SELECT evlog_register_kind(%s, 'what it records').",
						 quote_literal_cstr(text_to_cstring(kind))) :
				 errhint("Register it first with evlog_register_kind().")));
}

void
evlog_check_ts(TimestampTz ts, int entry)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("ts must be a finite timestamp"),
				 errdetail_internal("%sts is %s", evlog_entry_prefix(entry),
									TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity")));
}

static void
check_payload_size(Size size, int entry)
{
	if (size > (Size) evlog_max_payload_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("payload exceeds evlog.max_payload_bytes"),
				 errdetail_internal("%spayload is %zu bytes; the limit is %d bytes",
									evlog_entry_prefix(entry), size, evlog_max_payload_bytes),
				 errhint("Store large artefacts elsewhere and log a reference, or raise evlog.max_payload_bytes.")));
}

/*
 * Printed size of a payload.
 *
 * jsonb stores a number like 1e131071 in a few bytes, but its text form
 * (payload::text, pg_dump, logical decoding, every reader) has 131,072
 * digits: a 75 kB payload of such numbers prints as a gigabyte and fails
 * every read of the row, for good, since the log is append-only.  So the
 * limit is on the canonical text, computed in one walk without printing
 * anything: the exact length jsonb_out will produce.
 *
 * A numeric's text length follows from its on-disk header: numeric_out
 * prints the integer part (DEC_DIGITS decimal digits per base-NBASE digit
 * after the first, "0" when the weight is negative), then "." and dscale
 * digits.  The header layout is private to numeric.c; it is part of the
 * on-disk format (pg_upgrade keeps it), so the few fields read here are
 * mirrored from there.
 */
typedef int16 NumDigit;

typedef struct NumHeader
{
	int32		vl_len_;
	uint16		n_header;		/* short: sign, dscale, weight bits */
	int16		n_weight;		/* long format only */
} NumHeader;

#define NUM_DEC_DIGITS				4
#define NUM_HEADER_IS_SHORT(n)		(((n)->n_header & 0x8000) != 0)
#define NUM_IS_SPECIAL(n)			(((n)->n_header & 0xC000) == 0xC000)
#define NUM_SHORT_SIGN_MASK			0x2000
#define NUM_SHORT_DSCALE_MASK		0x1F80
#define NUM_SHORT_DSCALE_SHIFT		7
#define NUM_SHORT_WEIGHT_SIGN_MASK	0x0040
#define NUM_SHORT_WEIGHT_MASK		0x003F
#define NUM_LONG_SIGN_MASK			0xC000
#define NUM_LONG_NEG				0x4000
#define NUM_DSCALE_MASK				0x3FFF

/* Printed length of a finite numeric; *intdigits, *fracdigits as printed. */
static Size
numeric_printed_size(Numeric num, int *intdigits, int *fracdigits)
{
	NumHeader  *h = (NumHeader *) num;
	bool		shorthdr = NUM_HEADER_IS_SHORT(h);
	int			hdrsz = VARHDRSZ + sizeof(uint16) + (shorthdr ? 0 : sizeof(int16));
	int			ndigits = (VARSIZE(num) - hdrsz) / sizeof(NumDigit);
	const NumDigit *digits = (const NumDigit *) ((const char *) num + hdrsz);
	int			weight;
	int			dscale;
	bool		neg;

	if (shorthdr)
	{
		weight = (h->n_header & NUM_SHORT_WEIGHT_MASK) |
			((h->n_header & NUM_SHORT_WEIGHT_SIGN_MASK) ? ~NUM_SHORT_WEIGHT_MASK : 0);
		dscale = (h->n_header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		neg = (h->n_header & NUM_SHORT_SIGN_MASK) != 0;
	}
	else
	{
		weight = h->n_weight;
		dscale = h->n_header & NUM_DSCALE_MASK;
		neg = (h->n_header & NUM_LONG_SIGN_MASK) == NUM_LONG_NEG;
	}

	if (ndigits == 0 || weight < 0)
		*intdigits = 1;			/* "0" */
	else
	{
		NumDigit	first = digits[0];

		*intdigits = NUM_DEC_DIGITS * weight +
			(first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1);
	}
	*fracdigits = dscale;
	return (neg ? 1 : 0) + *intdigits + (dscale > 0 ? 1 + dscale : 0);
}

/* Length of a string as escape_json() prints it, quotes included. */
static Size
json_string_printed_size(const char *s, int len)
{
	Size		size = 2;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
			c == '\n' || c == '\r' || c == '\t')
			size += 2;
		else if (c < ' ')
			size += 6;			/* \u00XX */
		else
			size += 1;
	}
	return size;
}

/* One level of the walk's current JSON path. */
typedef struct PathStep
{
	bool		is_array;
	int			index;			/* array: current element */
	const char *key;			/* object: current key (not terminated) */
	int			keylen;
} PathStep;

/* "$.a[3].b" for the error message; long keys are cut. */
static char *
path_string(PathStep *path, int depth)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '$');
	for (int i = 0; i < depth; i++)
	{
		if (path[i].is_array)
			appendStringInfo(&buf, "[%d]", path[i].index);
		else
		{
			int			cut = path[i].keylen <= EVLOG_SHOWN_BYTES ? path[i].keylen :
			pg_mbcliplen(path[i].key, path[i].keylen, EVLOG_SHOWN_BYTES);
			char	   *key = pnstrdup(path[i].key, cut);

			appendStringInfoChar(&buf, '.');
			escape_json(&buf, cut < path[i].keylen ? psprintf("%s...", key) : key);
		}
	}
	return buf.data;
}

static void
check_number(JsonbValue *v, PathStep *path, int depth, int entry, Size *size)
{
	int			intdigits;
	int			fracdigits;

	*size += numeric_printed_size(v->val.numeric, &intdigits, &fracdigits);
	if (intdigits > EVLOG_MAX_NUMBER_DIGITS || fracdigits > EVLOG_MAX_NUMBER_DIGITS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("payload number is out of range"),
				 errdetail_internal("%sthe number at %s has %d digits before and %d after the decimal point; the limit is %d on each side",
									evlog_entry_prefix(entry), path_string(path, depth),
									intdigits, fracdigits, EVLOG_MAX_NUMBER_DIGITS),
				 errhint("Store very large or very precise numbers as JSON strings.")));
}

/*
 * Walk the payload once: refuse numbers beyond the documented magnitude
 * and return the length of payload::text.  Stops with an error as soon as
 * the running size passes evlog.max_payload_bytes, naming where.
 */
static Size
payload_printed_size(Jsonb *payload, int entry)
{
	JsonbIterator *it = JsonbIteratorInit(&payload->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	PathStep   *path;
	int			maxdepth = 16;
	int			depth = 0;
	Size		size = 0;

	path = palloc(maxdepth * sizeof(PathStep));
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		CHECK_FOR_INTERRUPTS();

		/* a value (scalar or container) in an array: its index, its ", " */
		if ((tok == WJB_ELEM || tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT) &&
			depth > 0 && path[depth - 1].is_array)
		{
			if (++path[depth - 1].index > 0)
				size += 2;
		}

		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
					break;		/* a scalar root: no brackets printed */
				if (depth == maxdepth)
				{
					maxdepth *= 2;
					path = repalloc(path, maxdepth * sizeof(PathStep));
				}
				path[depth].is_array = tok == WJB_BEGIN_ARRAY;
				path[depth].index = -1;
				path[depth].key = NULL;
				path[depth].keylen = 0;
				depth++;
				size += 2;		/* the brackets */
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				if (depth > 0)
					depth--;
				break;
			case WJB_KEY:
				/* ", " before all but the first key, ": " after each */
				if (path[depth - 1].key != NULL)
					size += 2;
				path[depth - 1].key = v.val.string.val;
				path[depth - 1].keylen = v.val.string.len;
				size += json_string_printed_size(v.val.string.val, v.val.string.len) + 2;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				switch (v.type)
				{
					case jbvNull:
						size += 4;
						break;
					case jbvBool:
						size += v.val.boolean ? 4 : 5;
						break;
					case jbvString:
						size += json_string_printed_size(v.val.string.val, v.val.string.len);
						break;
					case jbvNumeric:
						check_number(&v, path, depth, entry, &size);
						break;
					default:
						elog(ERROR, "unexpected jsonb value type %d", (int) v.type);
				}
				break;
			default:
				break;
		}

		if (size > (Size) evlog_max_payload_bytes)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("payload exceeds evlog.max_payload_bytes"),
					 errdetail_internal("%spayload::text is over %zu bytes by the value at %s; the limit is %d bytes",
										evlog_entry_prefix(entry), size,
										path_string(path, depth), evlog_max_payload_bytes),
					 errhint("Store large artefacts elsewhere and log a reference, or raise evlog.max_payload_bytes.")));
	}
	pfree(path);
	return size;
}

/*
 * The same walk, for the common case that passes: straight over a
 * container's JEntry array (jsonb's on-disk layout, as jsonb_util.c reads
 * it: an object's keys, then its values; each entry's length, or every
 * JB_OFFSET_STRIDE-th its end offset; numbers and containers start at an
 * int-aligned offset), adding up the printed size without building a
 * JsonbValue per token.  Returns false as soon as a number is out of range
 * or the size passes limit; payload_printed_size() then walks again and
 * raises the error, naming where.  A third of the iterator's cost on a
 * typical event.
 */
static bool
container_within_limits(const JsonbContainer *c, Size limit, Size *size)
{
	int			count = JsonContainerSize(c);
	bool		object = JsonContainerIsObject(c);
	int			nchildren = object ? count * 2 : count;
	const char *base = (const char *) &c->children[nchildren];
	uint32		offset = 0;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	/* brackets, and ", " between members */
	*size += 2 + (count > 0 ? 2 * (count - 1) : 0);
	for (int i = 0; i < nchildren; i++)
	{
		JEntry		je = c->children[i];
		uint32		len = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) - offset : JBE_OFFLENFLD(je);
		const char *data = base + offset;

		if (JBE_ISSTRING(je))
			*size += json_string_printed_size(data, len) + (object && i < count ? 2 : 0);
		else if (JBE_ISNUMERIC(je))
		{
			int			intdigits;
			int			fracdigits;

			*size += numeric_printed_size((Numeric) (base + INTALIGN(offset)),
										  &intdigits, &fracdigits);
			if (intdigits > EVLOG_MAX_NUMBER_DIGITS || fracdigits > EVLOG_MAX_NUMBER_DIGITS)
				return false;
		}
		else if (JBE_ISBOOL_TRUE(je) || JBE_ISNULL(je))
			*size += 4;
		else if (JBE_ISBOOL_FALSE(je))
			*size += 5;
		else if (JBE_ISCONTAINER(je))
		{
			if (!container_within_limits((const JsonbContainer *) (base + INTALIGN(offset)),
										 limit, size))
				return false;
		}
		else
			return false;		/* unknown entry type: let the iterator say */
		if (*size > limit)
			return false;
		offset += len;
	}
	return true;
}

/*
 * The payload is the event body: a JSON object, never a scalar or array,
 * no larger than evlog.max_payload_bytes stored and as text.
 */
void
evlog_check_payload(Jsonb *payload, int entry)
{
	Size		size = 0;

	check_payload_size(VARSIZE(payload) - VARHDRSZ, entry);
	if (!JB_ROOT_IS_OBJECT(payload))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload must be a JSON object"),
				 errdetail_internal("%spayload is a JSON %s", evlog_entry_prefix(entry),
									JB_ROOT_IS_SCALAR(payload) ? "scalar" : "array")));
	if (!container_within_limits(&payload->root, (Size) evlog_max_payload_bytes, &size))
		(void) payload_printed_size(payload, entry);
}

/*
 * Parse JSON text into jsonb.  jsonb_in does the parsing (one pass, the same
 * parser a plain INSERT would use); a syntax error is re-raised with evlog's
 * message so callers can match "not valid JSON" and see where it failed,
 * any other error as it is.  Re-raising straight from PG_CATCH is safe: the
 * transaction aborts anyway.
 */
Jsonb *
evlog_parse_payload(text *payload, int entry)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Datum		result = (Datum) 0;
	char	   *cstr;

	check_payload_size(VARSIZE_ANY_EXHDR(payload), entry);
	evlog_check_text(payload, "payload", entry);
	cstr = text_to_cstring(payload);

	PG_TRY();
	{
		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(cstr));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * Only a syntax error means "not valid JSON".  Anything else keeps
		 * its SQLSTATE: too deep (54001), a number out of numeric's range
		 * (22003), out of memory (53200), a cancel.
		 */
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_INVALID_TEXT_REPRESENTATION)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("payload is not valid JSON"),
				 errdetail_internal("%s%s%s%s%s",
									evlog_entry_prefix(entry),
									edata->detail ? edata->detail : edata->message,
									edata->context ? " (" : "",
									edata->context ? edata->context : "",
									edata->context ? ")" : "")));
	}
	PG_END_TRY();

	evlog_check_payload(DatumGetJsonbP(result), entry);
	return DatumGetJsonbP(result);
}

static text *
optional_text_arg(const NullableDatum *args, int argno, const char *field)
{
	text	   *value;

	if (args[argno].isnull)
		return NULL;
	value = DatumGetTextPP(args[argno].value);
	evlog_check_id(value, field, -1);
	return value;
}

/*
 * Read and check everything but the payload from values laid out like the
 * arguments of evlog_append / evlog_enqueue (which share their signature;
 * callers pass fcinfo->args), in the same order for every path, so that
 * each raises the same error for the same values: a row of
 * evlog.append_copy (copy_load.c) is checked by this very code.  The
 * payload is read by the caller: as text or as jsonb.  event_id_arg is
 * EVLOG_ARG_EVENT_ID, or where a conditional append's signature has it
 * (after its expectation).
 */
void
evlog_event_from_values(const NullableDatum *args, EvlogEvent *ev, int event_id_arg)
{
	evlog_require_not_null(args[EVLOG_ARG_KIND].isnull, "kind", -1);
	evlog_require_not_null(args[EVLOG_ARG_TS].isnull, "ts", -1);
	evlog_require_not_null(args[EVLOG_ARG_PAYLOAD].isnull, "payload", -1);

	ev->kind = DatumGetTextPP(args[EVLOG_ARG_KIND].value);
	evlog_check_kind(ev->kind, -1);
	evlog_refuse_reserved_kind(ev->kind, -1);
	ev->ts = DatumGetTimestampTz(args[EVLOG_ARG_TS].value);
	evlog_check_ts(ev->ts, -1);
	ev->host_id = optional_text_arg(args, EVLOG_ARG_HOST_ID, "host_id");
	ev->rollout_id = optional_text_arg(args, EVLOG_ARG_ROLLOUT_ID, "rollout_id");
	ev->event_id = optional_text_arg(args, event_id_arg, "event_id");
	ev->derives_nothing = false;
}

/*
 * Sentinels: evlog.gaps and retention trust the kinds "gap" and "retention"
 * to come from evlog alone (the queue writer's gap events, evlog_prune's
 * retention events), which write them without passing through here.  Every
 * append path (evlog_append, the batches, evlog_enqueue) calls this with
 * evlog_check_kind.
 */
static const char *const reserved_kinds[] = {"gap", "retention"};

void
evlog_refuse_reserved_kind(text *kind, int entry)
{
	for (int i = 0; i < lengthof(reserved_kinds); i++)
		if (VARSIZE_ANY_EXHDR(kind) == strlen(reserved_kinds[i]) &&
			memcmp(VARDATA_ANY(kind), reserved_kinds[i], strlen(reserved_kinds[i])) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("event kind \"%s\" is reserved for evlog", reserved_kinds[i]),
					 entry >= 0 ? errdetail_internal("entry %d has kind \"%s\"", entry, reserved_kinds[i]) : 0,
					 errhint("Only evlog itself writes %s events; use a kind of your own.",
							 reserved_kinds[i])));
}
