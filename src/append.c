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

#include "event.h"
#include "log_writer.h"

PG_FUNCTION_INFO_V1(evlog_append_text);
PG_FUNCTION_INFO_V1(evlog_append_jsonb);

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

	evlog_event_from_values(fcinfo->args, &ev, EVLOG_ARG_EVENT_ID);
	ev.payload = evlog_parse_payload(PG_GETARG_TEXT_PP(EVLOG_ARG_PAYLOAD), -1);
	PG_RETURN_INT64(append_one(&ev));
}

Datum
evlog_append_jsonb(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	evlog_event_from_values(fcinfo->args, &ev, EVLOG_ARG_EVENT_ID);
	ev.payload = PG_GETARG_JSONB_P(EVLOG_ARG_PAYLOAD);
	evlog_check_payload(ev.payload, -1);
	PG_RETURN_INT64(append_one(&ev));
}
