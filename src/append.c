/*-------------------------------------------------------------------------
 *
 * append.c
 *	  SQL entry points for appending one event: evlog_append(...), with the
 *	  payload as JSON text or as jsonb.
 *
 * Both forms validate every argument (event.c) before anything is written,
 * then hand the event to the log writer (log_writer.c).  They are not
 * STRICT: host_id, rollout_id and event_id may be NULL, and a NULL kind, ts
 * or payload deserves an error that names the argument, not a silent NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "evlog.h"

PG_FUNCTION_INFO_V1(evlog_append_text);
PG_FUNCTION_INFO_V1(evlog_append_jsonb);

enum
{
	ARG_KIND,
	ARG_TS,
	ARG_HOST_ID,
	ARG_ROLLOUT_ID,
	ARG_PAYLOAD,
	ARG_EVENT_ID
};

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

/* Everything but the payload, which the two forms read differently. */
static void
read_common_args(FunctionCallInfo fcinfo, EvlogEvent *ev)
{
	evlog_require_not_null(PG_ARGISNULL(ARG_KIND), "kind", -1);
	evlog_require_not_null(PG_ARGISNULL(ARG_TS), "ts", -1);
	evlog_require_not_null(PG_ARGISNULL(ARG_PAYLOAD), "payload", -1);

	ev->kind = PG_GETARG_TEXT_PP(ARG_KIND);
	evlog_check_kind(ev->kind, -1);
	ev->ts = PG_GETARG_TIMESTAMPTZ(ARG_TS);
	evlog_check_ts(ev->ts, -1);
	ev->host_id = optional_text_arg(fcinfo, ARG_HOST_ID, "host_id");
	ev->rollout_id = optional_text_arg(fcinfo, ARG_ROLLOUT_ID, "rollout_id");
	ev->event_id = optional_text_arg(fcinfo, ARG_EVENT_ID, "event_id");
}

static int64
append_one(EvlogEvent *ev)
{
	EvlogWriter *writer = evlog_writer_open();
	int64		seq = evlog_writer_append(writer, ev);

	evlog_writer_close(writer);
	return seq;
}

Datum
evlog_append_text(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	read_common_args(fcinfo, &ev);
	ev.payload = evlog_parse_payload(PG_GETARG_TEXT_PP(ARG_PAYLOAD), -1);
	PG_RETURN_INT64(append_one(&ev));
}

Datum
evlog_append_jsonb(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	read_common_args(fcinfo, &ev);
	ev.payload = PG_GETARG_JSONB_P(ARG_PAYLOAD);
	evlog_check_payload(ev.payload, -1);
	PG_RETURN_INT64(append_one(&ev));
}
