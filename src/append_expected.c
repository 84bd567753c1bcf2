/*-------------------------------------------------------------------------
 *
 * append_expected.c
 *	  SQL entry points evlog_append(..., expected_stream, expected_seq, ...):
 *	  a single conditional append (1.2).  The check itself is stream.c's,
 *	  called by the writer under the stream's lock; this file only reads
 *	  the arguments and hands the event to the writer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "event.h"
#include "log_writer.h"
#include "stream.h"

PG_FUNCTION_INFO_V1(evlog_append_expected_text);
PG_FUNCTION_INFO_V1(evlog_append_expected_jsonb);

/*
 * expected_stream and expected_seq arguments: no check when expected_seq is
 * NULL; 0 means the stream must be empty.
 */
static void
expect_from_args(FunctionCallInfo fcinfo, int stream_arg, int seq_arg,
					   EvlogExpect *x, int entry)
{
	x->stream = EVLOG_STREAM_NONE;
	x->seq = EVLOG_STREAM_EMPTY;
	if (PG_ARGISNULL(seq_arg))
		return;
	evlog_require_not_null(PG_ARGISNULL(stream_arg), "expected_stream", entry);
	x->stream = evlog_stream_kind(PG_GETARG_TEXT_PP(stream_arg), entry);
	x->seq = PG_GETARG_INT64(seq_arg);
	if (x->seq < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected_seq must be 0 (an empty stream) or a seq"),
				 errdetail("expected_seq is " INT64_FORMAT ".", x->seq)));
}

/*
 * evlog_append(kind, ts, host_id, rollout_id, payload, expected_stream,
 *				expected_seq, event_id DEFAULT NULL)
 */
enum
{
	XARG_KIND,
	XARG_TS,
	XARG_HOST_ID,
	XARG_ROLLOUT_ID,
	XARG_PAYLOAD,
	XARG_EXPECTED_STREAM,
	XARG_EXPECTED_SEQ,
	XARG_EVENT_ID
};

/*
 * The event as evlog_append reads it (its first five arguments are
 * evlog_append's), then the expectation: same checks, same order.
 */
static void
expected_event_from_args(FunctionCallInfo fcinfo, EvlogEvent *ev)
{
	StaticAssertStmt((int) XARG_PAYLOAD == (int) EVLOG_ARG_PAYLOAD, "evlog_append's leading arguments");
	evlog_event_from_values(fcinfo->args, ev, XARG_EVENT_ID);
	expect_from_args(fcinfo, XARG_EXPECTED_STREAM, XARG_EXPECTED_SEQ,
						   &ev->expect, -1);
	if (ev->expect.stream != EVLOG_STREAM_NONE)
		(void) evlog_stream_id(ev, ev->expect.stream, -1);
}

static int64
append_expected(EvlogEvent *ev)
{
	EvlogWriter *writer = evlog_writer_open();
	int64		seq = evlog_writer_append_expected(writer, ev);

	evlog_writer_close(writer);
	return seq;
}

Datum
evlog_append_expected_text(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	expected_event_from_args(fcinfo, &ev);
	ev.payload = evlog_parse_payload(PG_GETARG_TEXT_PP(XARG_PAYLOAD), -1);
	PG_RETURN_INT64(append_expected(&ev));
}

Datum
evlog_append_expected_jsonb(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	expected_event_from_args(fcinfo, &ev);
	ev.payload = PG_GETARG_JSONB_P(XARG_PAYLOAD);
	evlog_check_payload(ev.payload, -1);
	PG_RETURN_INT64(append_expected(&ev));
}
