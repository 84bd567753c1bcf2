/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  SQL entry points for appending many events in one call:
 *	  evlog_append_batch(entries jsonb) and the typed form
 *	  evlog_append_batch(kinds text[], ts timestamptz[], ...).
 *
 * This file owns reading a batch: it turns entry i of the input into an
 * EvlogEvent and validates it with the same event.c checks as evlog_append,
 * passing i as "entry" so every error's detail starts with "entry i: ", and
 * with the derived tables' payload rules (evlog_derive_check), so that an
 * entry its append would refuse is refused before any seq is taken.  The
 * writing, event_id handling and seq allocation are log_writer.c's
 * (evlog_writer_append_many).
 *
 * The writer pulls entries one at a time through a fetch callback instead of
 * receiving an array of events: the input (a jsonb array, or the argument
 * arrays) is already in memory, and copying a 100,000-entry batch into
 * events up front would hold it twice.  An entry is fetched more than once
 * (validation pass, event_id pass, insert), so the first fetch records that
 * the entry is valid (and, for jsonb, its parsed ts) and later fetches only
 * extract.  Kind lookups are memoized per call: a batch of N events of the
 * same kind probes evlog.kinds once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "derive.h"
#include "event.h"
#include "log_writer.h"
#include "rfc3339.h"
#include "stream.h"

PG_FUNCTION_INFO_V1(evlog_append_batch_jsonb);
PG_FUNCTION_INFO_V1(evlog_append_batch_arrays);

/* Kinds that passed evlog_check_kind in this call. */
typedef struct KindMemo
{
	MemoryContext cxt;			/* the call's context: outlives the fetches */
	int			n;
	int			size;
	text	  **kinds;
} KindMemo;

/* State for fetching from evlog_append_batch(entries jsonb). */
typedef struct JsonbBatch
{
	Jsonb	   *entries;
	KindMemo	memo;
	/* parsed ts of each entry once it has been validated, else DT_NOBEGIN */
	TimestampTz *ts;
} JsonbBatch;

/* State for fetching from the typed form: the deconstructed arguments. */
typedef struct ArrayBatch
{
	Datum	   *kinds;
	bool	   *kind_nulls;
	Datum	   *ts;
	bool	   *ts_nulls;
	Datum	   *host_ids;		/* NULL when the whole argument is NULL */
	bool	   *host_id_nulls;
	Datum	   *rollout_ids;
	bool	   *rollout_id_nulls;
	Datum	   *payloads;
	bool	   *payload_nulls;
	Datum	   *event_ids;
	bool	   *event_id_nulls;
	Datum	   *expected_streams;	/* NULL unless the conditional form */
	bool	   *expected_stream_nulls;
	Datum	   *expected_seqs;
	bool	   *expected_seq_nulls;
	KindMemo	memo;
	bool	   *validated;
} ArrayBatch;

static void
memo_init(KindMemo *memo)
{
	memo->cxt = CurrentMemoryContext;
	memo->n = 0;
	memo->size = 8;
	memo->kinds = palloc(memo->size * sizeof(text *));
}

/*
 * evlog_check_kind once per distinct kind.  Registered kinds are few, so a
 * linear search beats hashing; equality is bytewise, which is text equality
 * under the (deterministic) database collation the kinds index uses.
 */
static void
check_kind_memoized(KindMemo *memo, text *kind, int entry)
{
	Size		len = VARSIZE_ANY_EXHDR(kind);
	MemoryContext old;
	text	   *copy;

	for (int i = 0; i < memo->n; i++)
		if (VARSIZE_ANY_EXHDR(memo->kinds[i]) == len &&
			memcmp(VARDATA_ANY(memo->kinds[i]), VARDATA_ANY(kind), len) == 0)
			return;

	evlog_check_kind(kind, entry);
	evlog_refuse_reserved_kind(kind, entry);

	old = MemoryContextSwitchTo(memo->cxt);
	if (memo->n == memo->size)
	{
		memo->size *= 2;
		memo->kinds = repalloc(memo->kinds, memo->size * sizeof(text *));
	}
	copy = palloc(VARSIZE_ANY(kind));
	memcpy(copy, kind, VARSIZE_ANY(kind));
	memo->kinds[memo->n++] = copy;
	MemoryContextSwitchTo(old);
}

static void
check_batch_size(int n)
{
	if (n > evlog_max_batch_entries)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch exceeds evlog.max_batch_entries"),
				 errdetail("The batch has %d entries; the limit is %d.",
						   n, evlog_max_batch_entries),
				 errhint("Split the batch, or raise evlog.max_batch_entries.")));
}

/*
 * The result: a one-dimensional bigint array of n elements, allocated
 * before the batch is written so the writer fills it in place.
 */
static ArrayType *
seq_array(int n)
{
	Size		nbytes;
	ArrayType  *result;

	if (n == 0)
		return construct_empty_array(INT8OID);
	nbytes = ARR_OVERHEAD_NONULLS(1) + (Size) n * sizeof(int64);
	result = palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = INT8OID;
	ARR_DIMS(result)[0] = n;
	ARR_LBOUND(result)[0] = 1;
	return result;
}

static ArrayType *
append_batch(EvlogWriter *writer, int n, EvlogFetchEvent fetch, void *arg,
			 bool with_expect)
{
	ArrayType  *result = seq_array(n);

	if (with_expect)
		evlog_writer_append_many_expected(writer, n, fetch, arg,
										  n > 0 ? (int64 *) ARR_DATA_PTR(result) : NULL);
	else
		evlog_writer_append_many(writer, n, fetch, arg,
								 n > 0 ? (int64 *) ARR_DATA_PTR(result) : NULL);
	evlog_writer_close(writer);
	return result;
}

/* ----------------------------------------------------------------------
 * evlog_append_batch(entries jsonb)
 * ---------------------------------------------------------------------- */

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvArray:
			return "array";
		case jbvObject:
			return "object";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "value";
	}
}

/* the fields of an entry object, as read before validation */
enum
{
	F_KIND,
	F_TS,
	F_HOST_ID,
	F_ROLLOUT_ID,
	F_PAYLOAD,
	F_EVENT_ID,
	F_EXPECTED_STREAM,
	F_EXPECTED_SEQ,
	NFIELDS
};

static const char *const field_names[NFIELDS] = {
	"kind", "ts", "host_id", "rollout_id", "payload", "event_id",
	"expected_stream", "expected_seq"
};

static void
wrong_json_type(int entry, int field, JsonbValue *v, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %s", field_names[field], expected),
			 errdetail_internal("entry %d: %s is a JSON %s", entry,
								field_names[field], json_type_name(v))));
}

/* A JSON string or null as text, or NULL. */
static text *
json_optional_text(JsonbValue *v, bool present, int entry, int field)
{
	if (!present || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		wrong_json_type(entry, field, v, "a JSON string or null");
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/*
 * ts as timestamptz_in reads it: RFC 3339, what JSON clients send, without
 * the general parser (rfc3339.c), anything else by timestamptz_in.  Its
 * error is re-raised with the entry named, keeping its SQLSTATE (invalid
 * format vs out of range).
 */
static TimestampTz
parse_ts(JsonbValue *v, int entry)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	char	   *cstr;
	TimestampTz ts = 0;

	if (evlog_parse_rfc3339(v->val.string.val, v->val.string.len,
							EVLOG_RFC3339_AS_TIMESTAMPTZ_IN, &ts))
		return ts;
	cstr = pnstrdup(v->val.string.val, v->val.string.len);

	PG_TRY();
	{
		ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(cstr),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("ts is not a valid timestamp"),
				 errdetail_internal("entry %d: %s", entry, edata->message)));
	}
	PG_END_TRY();
	return ts;
}

/*
 * expected_stream and expected_seq of an entry: no check without
 * expected_seq (or with null); 0 for an empty stream, -1 for "the previous
 * entry of the same stream in this batch" (log_writer.c checks where).
 */
static void
json_expectation(JsonbValue *values, bool *present, int index, EvlogExpect *x)
{
	JsonbValue *seqv = &values[F_EXPECTED_SEQ];
	JsonbValue *streamv = &values[F_EXPECTED_STREAM];
	Datum		d;

	x->stream = EVLOG_STREAM_NONE;
	x->seq = EVLOG_STREAM_EMPTY;
	if (!present[F_EXPECTED_SEQ] || seqv->type == jbvNull)
		return;
	if (seqv->type != jbvNumeric)
		wrong_json_type(index, F_EXPECTED_SEQ, seqv, "a JSON number or null");
	evlog_require_not_null(!present[F_EXPECTED_STREAM] || streamv->type == jbvNull,
						   "expected_stream", index);
	if (streamv->type != jbvString)
		wrong_json_type(index, F_EXPECTED_STREAM, streamv, "a JSON string");
	x->stream = evlog_stream_kind(cstring_to_text_with_len(streamv->val.string.val,
														   streamv->val.string.len),
								  index);
	d = DirectFunctionCall1(numeric_int8, NumericGetDatum(seqv->val.numeric));
	/* numeric_int8 rounds: 4.5 is no seq */
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(seqv->val.numeric),
										  DirectFunctionCall1(int8_numeric, d))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_seq must be an integer"),
				 errdetail_internal("entry %d: expected_seq is not a whole number", index)));
	x->seq = DatumGetInt64(d);
	if (x->seq < EVLOG_EXPECT_PREVIOUS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_seq must be a seq, 0 (an empty stream) or -1 (the previous entry of the stream)"),
				 errdetail_internal("entry %d: expected_seq is " INT64_FORMAT, index, x->seq)));
}

static void
fetch_jsonb_entry(void *arg, int index, EvlogEvent *ev)
{
	JsonbBatch *b = (JsonbBatch *) arg;
	JsonbValue *entry = getIthJsonbValueFromContainer(&b->entries->root, index);
	JsonbValue	values[NFIELDS];
	bool		present[NFIELDS] = {false};
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	bool		validated = b->ts[index] != DT_NOBEGIN;

	if (entry == NULL || entry->type != jbvBinary ||
		!JsonContainerIsObject(entry->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch entries must be JSON objects"),
				 errdetail_internal("entry %d is a JSON %s", index,
									entry ? json_type_name(entry) : "value")));

	/* collect the fields; a jsonb object has no duplicate keys */
	it = JsonbIteratorInit(entry->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			f;

		if (tok != WJB_KEY)
			continue;
		for (f = 0; f < NFIELDS; f++)
			if (v.val.string.len == strlen(field_names[f]) &&
				memcmp(v.val.string.val, field_names[f], v.val.string.len) == 0)
				break;
		if (f == NFIELDS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in batch entry",
							pnstrdup(v.val.string.val, v.val.string.len)),
					 errdetail_internal("entry %d: the keys are kind, ts, host_id, rollout_id, payload, event_id, expected_stream and expected_seq",
										index),
					 errhint("Unknown keys are refused so that a misspelt field is not silently dropped.")));
		tok = JsonbIteratorNext(&it, &values[f], true);
		Assert(tok == WJB_VALUE);
		present[f] = true;
	}

	/* the same order of checks as evlog_append */
	evlog_require_not_null(!present[F_KIND] || values[F_KIND].type == jbvNull, "kind", index);
	evlog_require_not_null(!present[F_TS] || values[F_TS].type == jbvNull, "ts", index);
	evlog_require_not_null(!present[F_PAYLOAD] || values[F_PAYLOAD].type == jbvNull, "payload", index);
	if (values[F_KIND].type != jbvString)
		wrong_json_type(index, F_KIND, &values[F_KIND], "a JSON string");
	if (values[F_TS].type != jbvString)
		wrong_json_type(index, F_TS, &values[F_TS], "a JSON string");

	ev->kind = cstring_to_text_with_len(values[F_KIND].val.string.val,
										values[F_KIND].val.string.len);
	ev->host_id = json_optional_text(&values[F_HOST_ID], present[F_HOST_ID], index, F_HOST_ID);
	ev->rollout_id = json_optional_text(&values[F_ROLLOUT_ID], present[F_ROLLOUT_ID], index, F_ROLLOUT_ID);
	ev->event_id = json_optional_text(&values[F_EVENT_ID], present[F_EVENT_ID], index, F_EVENT_ID);
	/* an object is copied as is; a scalar or array fails the check below */
	ev->payload = JsonbValueToJsonb(&values[F_PAYLOAD]);

	json_expectation(values, present, index, &ev->expect);

	if (validated)
	{
		/* fetched again (a batch too large to keep): derive as usual */
		ev->ts = b->ts[index];
		ev->derives_nothing = false;
		return;
	}

	check_kind_memoized(&b->memo, ev->kind, index);
	ev->ts = parse_ts(&values[F_TS], index);
	evlog_check_ts(ev->ts, index);
	if (ev->host_id)
		evlog_check_id(ev->host_id, "host_id", index);
	if (ev->rollout_id)
		evlog_check_id(ev->rollout_id, "rollout_id", index);
	if (ev->event_id)
		evlog_check_id(ev->event_id, "event_id", index);
	evlog_check_payload(ev->payload, index);
	ev->derives_nothing = !evlog_derive_check(ev, index);
	b->ts[index] = ev->ts;
}

Datum
evlog_append_batch_jsonb(PG_FUNCTION_ARGS)
{
	EvlogWriter *writer;
	JsonbBatch	b;
	int			n;

	evlog_require_not_null(PG_ARGISNULL(0), "entries", -1);
	b.entries = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(b.entries) || JB_ROOT_IS_SCALAR(b.entries))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entries must be a JSON array"),
				 errdetail("entries is a JSON %s.",
						   JB_ROOT_IS_SCALAR(b.entries) ? "scalar" : "object"),
				 errhint("Pass an array of event objects, e.g. [{\"kind\": \"agent_event\", \"ts\": \"2026-05-16T01:00:00Z\", \"payload\": {}}].")));
	n = JB_ROOT_COUNT(b.entries);
	check_batch_size(n);

	/* opened first so its memory accounting covers everything below */
	writer = evlog_writer_open();
	memo_init(&b.memo);
	b.ts = palloc(Max(n, 1) * sizeof(TimestampTz));
	for (int i = 0; i < n; i++)
		b.ts[i] = DT_NOBEGIN;

	PG_RETURN_ARRAYTYPE_P(append_batch(writer, n, fetch_jsonb_entry, &b, true));
}

/* ----------------------------------------------------------------------
 * evlog_append_batch(kinds text[], ts timestamptz[], host_ids text[],
 *                    rollout_ids text[], payloads jsonb[], event_ids text[])
 * ---------------------------------------------------------------------- */

enum
{
	ARG_KINDS,
	ARG_TS,
	ARG_HOST_IDS,
	ARG_ROLLOUT_IDS,
	ARG_PAYLOADS,
	ARG_EVENT_IDS,
	NARGS
};

static const char *const arg_names[NARGS] = {
	"kinds", "ts", "host_ids", "rollout_ids", "payloads", "event_ids"
};

static text *
array_optional_text(Datum *values, bool *nulls, int index, const char *field,
					bool validate)
{
	text	   *t;

	if (values == NULL || nulls[index])
		return NULL;
	t = DatumGetTextPP(values[index]);
	if (validate)
		evlog_check_id(t, field, index);
	return t;
}

/* entry index's expectation, as json_expectation reads the JSON form's */
static void
array_expectation(ArrayBatch *b, int index, EvlogExpect *x)
{
	x->stream = EVLOG_STREAM_NONE;
	x->seq = EVLOG_STREAM_EMPTY;
	if (b->expected_seqs == NULL || b->expected_seq_nulls[index])
		return;
	evlog_require_not_null(b->expected_streams == NULL ||
						   b->expected_stream_nulls[index], "expected_stream", index);
	x->stream = evlog_stream_kind(DatumGetTextPP(b->expected_streams[index]), index);
	x->seq = DatumGetInt64(b->expected_seqs[index]);
	if (x->seq < EVLOG_EXPECT_PREVIOUS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_seq must be a seq, 0 (an empty stream) or -1 (the previous entry of the stream)"),
				 errdetail_internal("entry %d: expected_seq is " INT64_FORMAT, index, x->seq)));
}

static void
fetch_array_entry(void *arg, int index, EvlogEvent *ev)
{
	ArrayBatch *b = (ArrayBatch *) arg;
	bool		validate = !b->validated[index];

	evlog_require_not_null(b->kind_nulls[index], "kind", index);
	evlog_require_not_null(b->ts_nulls[index], "ts", index);
	evlog_require_not_null(b->payload_nulls[index], "payload", index);

	ev->kind = DatumGetTextPP(b->kinds[index]);
	ev->ts = DatumGetTimestampTz(b->ts[index]);
	if (validate)
	{
		check_kind_memoized(&b->memo, ev->kind, index);
		evlog_check_ts(ev->ts, index);
	}
	ev->host_id = array_optional_text(b->host_ids, b->host_id_nulls, index, "host_id", validate);
	ev->rollout_id = array_optional_text(b->rollout_ids, b->rollout_id_nulls, index, "rollout_id", validate);
	ev->event_id = array_optional_text(b->event_ids, b->event_id_nulls, index, "event_id", validate);
	ev->payload = DatumGetJsonbP(b->payloads[index]);
	ev->derives_nothing = false;
	if (validate)
	{
		evlog_check_payload(ev->payload, index);
		ev->derives_nothing = !evlog_derive_check(ev, index);
	}
	array_expectation(b, index, &ev->expect);
	b->validated[index] = true;
}

/*
 * The number of elements of argument argno, or -1 if it is NULL (allowed
 * only for the optional fields, where it stands for all NULLs).
 */
static int
array_arg_length(FunctionCallInfo fcinfo, int argno, bool required)
{
	ArrayType  *arr;

	if (PG_ARGISNULL(argno))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", arg_names[argno]),
					 errhint("Pass an empty array for an empty batch.")));
		return -1;
	}
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", arg_names[argno]),
				 errdetail("%s has %d dimensions.", arg_names[argno], ARR_NDIM(arr))));
	return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
}

static void
deconstruct_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype,
				Datum **values, bool **nulls)
{
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*values = NULL;
	*nulls = NULL;
	if (PG_ARGISNULL(argno))
		return;
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), elemtype,
					  typlen, typbyval, typalign, values, nulls, &n);
}

Datum
evlog_append_batch_arrays(PG_FUNCTION_ARGS)
{
	EvlogWriter *writer;
	ArrayBatch	b;
	int			len[NARGS];
	int			n;

	for (int a = 0; a < NARGS; a++)
		len[a] = array_arg_length(fcinfo, a,
								  a == ARG_KINDS || a == ARG_TS || a == ARG_PAYLOADS);
	n = len[ARG_KINDS];
	for (int a = 0; a < NARGS; a++)
		if (len[a] >= 0 && len[a] != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("the arrays of a batch must all have the same length"),
					 errdetail("kinds has length %d, %s has length %d.", n, arg_names[a], len[a]),
					 errhint("Entry i of the batch is element i of every array; pass NULL elements for absent values.")));
	check_batch_size(n);

	/* opened first so its memory accounting covers everything below */
	writer = evlog_writer_open();
	deconstruct_arg(fcinfo, ARG_KINDS, TEXTOID, &b.kinds, &b.kind_nulls);
	deconstruct_arg(fcinfo, ARG_TS, TIMESTAMPTZOID, &b.ts, &b.ts_nulls);
	deconstruct_arg(fcinfo, ARG_HOST_IDS, TEXTOID, &b.host_ids, &b.host_id_nulls);
	deconstruct_arg(fcinfo, ARG_ROLLOUT_IDS, TEXTOID, &b.rollout_ids, &b.rollout_id_nulls);
	deconstruct_arg(fcinfo, ARG_PAYLOADS, JSONBOID, &b.payloads, &b.payload_nulls);
	deconstruct_arg(fcinfo, ARG_EVENT_IDS, TEXTOID, &b.event_ids, &b.event_id_nulls);
	b.expected_streams = b.expected_seqs = NULL;
	memo_init(&b.memo);
	b.validated = palloc0(Max(n, 1) * sizeof(bool));

	PG_RETURN_ARRAYTYPE_P(append_batch(writer, n, fetch_array_entry, &b, false));
}

/*
 * evlog_append_batch(kinds text[], ts timestamptz[], host_ids text[],
 *                    rollout_ids text[], payloads jsonb[],
 *                    expected_streams text[], expected_seqs bigint[],
 *                    event_ids text[] DEFAULT NULL)
 *
 * The conditional typed form: its own argument order, so that no call of
 * the form above can resolve to it.
 */
enum
{
	XARG_KINDS,
	XARG_TS,
	XARG_HOST_IDS,
	XARG_ROLLOUT_IDS,
	XARG_PAYLOADS,
	XARG_EXPECTED_STREAMS,
	XARG_EXPECTED_SEQS,
	XARG_EVENT_IDS,
	XNARGS
};

static const char *const xarg_names[XNARGS] = {
	"kinds", "ts", "host_ids", "rollout_ids", "payloads",
	"expected_streams", "expected_seqs", "event_ids"
};

PG_FUNCTION_INFO_V1(evlog_append_batch_expected_arrays);

Datum
evlog_append_batch_expected_arrays(PG_FUNCTION_ARGS)
{
	EvlogWriter *writer;
	ArrayBatch	b;
	int			len[XNARGS];
	int			n;

	for (int a = 0; a < XNARGS; a++)
	{
		ArrayType  *arr;

		len[a] = -1;
		if (PG_ARGISNULL(a))
		{
			if (a == XARG_KINDS || a == XARG_TS || a == XARG_PAYLOADS)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not be null", xarg_names[a]),
						 errhint("Pass an empty array for an empty batch.")));
			continue;
		}
		arr = PG_GETARG_ARRAYTYPE_P(a);
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("%s must be a one-dimensional array", xarg_names[a]),
					 errdetail("%s has %d dimensions.", xarg_names[a], ARR_NDIM(arr))));
		len[a] = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	n = len[XARG_KINDS];
	for (int a = 0; a < XNARGS; a++)
		if (len[a] >= 0 && len[a] != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("the arrays of a batch must all have the same length"),
					 errdetail("kinds has length %d, %s has length %d.", n, xarg_names[a], len[a]),
					 errhint("Entry i of the batch is element i of every array; pass NULL elements for absent values.")));
	check_batch_size(n);

	writer = evlog_writer_open();
	deconstruct_arg(fcinfo, XARG_KINDS, TEXTOID, &b.kinds, &b.kind_nulls);
	deconstruct_arg(fcinfo, XARG_TS, TIMESTAMPTZOID, &b.ts, &b.ts_nulls);
	deconstruct_arg(fcinfo, XARG_HOST_IDS, TEXTOID, &b.host_ids, &b.host_id_nulls);
	deconstruct_arg(fcinfo, XARG_ROLLOUT_IDS, TEXTOID, &b.rollout_ids, &b.rollout_id_nulls);
	deconstruct_arg(fcinfo, XARG_PAYLOADS, JSONBOID, &b.payloads, &b.payload_nulls);
	deconstruct_arg(fcinfo, XARG_EVENT_IDS, TEXTOID, &b.event_ids, &b.event_id_nulls);
	deconstruct_arg(fcinfo, XARG_EXPECTED_STREAMS, TEXTOID,
					&b.expected_streams, &b.expected_stream_nulls);
	deconstruct_arg(fcinfo, XARG_EXPECTED_SEQS, INT8OID,
					&b.expected_seqs, &b.expected_seq_nulls);
	memo_init(&b.memo);
	b.validated = palloc0(Max(n, 1) * sizeof(bool));

	PG_RETURN_ARRAYTYPE_P(append_batch(writer, n, fetch_array_entry, &b, true));
}
