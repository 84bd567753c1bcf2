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
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "evlog.h"

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
 * The kind must be non-empty and registered in evlog.kinds.  A direct index
 * probe keeps this correct without any cache to invalidate: a kind
 * registered in this transaction, or committed by another before our
 * snapshot, is found.
 */
void
evlog_check_kind(text *kind, int entry)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	evlog_check_text(kind, "kind", entry);
	if (VARSIZE_ANY_EXHDR(kind) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kind must not be empty"),
				 entry >= 0 ? errdetail_internal("entry %d: kind is empty", entry) : 0));

	rel = table_open(evlog_relid("kinds"), AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(kind));
	key.sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(rel, evlog_relid("kinds_pkey"), true,
							  GetActiveSnapshot(), 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event kind \"%s\"", text_to_cstring(kind)),
				 errdetail_internal("%severy kind must be registered in evlog.kinds", evlog_entry_prefix(entry)),
				 errhint("Register it first with SELECT evlog_register_kind('%s', 'what it records').",
						 text_to_cstring(kind))));
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

/* The payload is the event body: a JSON object, never a scalar or array. */
void
evlog_check_payload(Jsonb *payload, int entry)
{
	check_payload_size(VARSIZE(payload) - VARHDRSZ, entry);
	if (!JB_ROOT_IS_OBJECT(payload))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload must be a JSON object"),
				 errdetail_internal("%spayload is a JSON %s", evlog_entry_prefix(entry),
									JB_ROOT_IS_SCALAR(payload) ? "scalar" : "array")));
}

/*
 * Parse JSON text into jsonb.  jsonb_in does the parsing (one pass, the same
 * parser a plain INSERT would use); its error is re-raised with evlog's
 * message so callers can match "not valid JSON" and see where it failed.
 * Re-raising straight from PG_CATCH is safe: the transaction aborts anyway.
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

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
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
optional_text_arg(FunctionCallInfo fcinfo, int argno, const char *field)
{
	text	   *value;

	if (PG_ARGISNULL(argno))
		return NULL;
	value = PG_GETARG_TEXT_PP(argno);
	evlog_check_text(value, field, -1);
	return value;
}

/*
 * Read and check everything but the payload from the arguments of
 * evlog_append / evlog_enqueue (which share their signature), in the same
 * order for both, so both raise the same error for the same call.  The
 * payload is read by the caller: as text or as jsonb.
 */
void
evlog_event_from_args(FunctionCallInfo fcinfo, EvlogEvent *ev)
{
	evlog_require_not_null(PG_ARGISNULL(EVLOG_ARG_KIND), "kind", -1);
	evlog_require_not_null(PG_ARGISNULL(EVLOG_ARG_TS), "ts", -1);
	evlog_require_not_null(PG_ARGISNULL(EVLOG_ARG_PAYLOAD), "payload", -1);

	ev->kind = PG_GETARG_TEXT_PP(EVLOG_ARG_KIND);
	evlog_check_kind(ev->kind, -1);
	evlog_refuse_reserved_kind(ev->kind, -1);
	ev->ts = PG_GETARG_TIMESTAMPTZ(EVLOG_ARG_TS);
	evlog_check_ts(ev->ts, -1);
	ev->host_id = optional_text_arg(fcinfo, EVLOG_ARG_HOST_ID, "host_id");
	ev->rollout_id = optional_text_arg(fcinfo, EVLOG_ARG_ROLLOUT_ID, "rollout_id");
	ev->event_id = optional_text_arg(fcinfo, EVLOG_ARG_EVENT_ID, "event_id");
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
