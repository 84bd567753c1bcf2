/*-------------------------------------------------------------------------
 *
 * event.h
 *	  Validation of one event's fields, shared by every append path (single,
 *	  batch, conditional, queued): one place decides what a valid event is
 *	  and how its errors read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_EVENT_H
#define EVLOG_EVENT_H

#include "evlog.h"
#include "fmgr.h"

/*
 * event.c — validation.  "entry" is the 0-based index of the event in a
 * batch, or -1 for a single append; errors then name the entry.
 */
/*
 * Documented input limits.  kind, host_id, rollout_id and event_id are keys
 * of btree indexes (the log's, evlog.event_ids', the derived tables'), whose
 * rows must fit in a third of a page (about 2,700 bytes, two of them
 * together in evlog.host_states): checking the length before a seq is
 * allocated keeps an index failure from spending seqs.  A payload number
 * has at most EVLOG_MAX_NUMBER_DIGITS digits on either side of the decimal
 * point, so no small stored value prints as a huge text.
 */
#define EVLOG_MAX_ID_BYTES			1024
#define EVLOG_MAX_NUMBER_DIGITS		1000

extern void evlog_require_not_null(bool isnull, const char *field, int entry);
extern void evlog_check_text(text *value, const char *field, int entry);
extern void evlog_check_id(text *value, const char *field, int entry);
extern void evlog_check_kind(text *kind, int entry);
extern void evlog_refuse_reserved_kind(text *kind, int entry);
extern void evlog_check_ts(TimestampTz ts, int entry);
extern Jsonb *evlog_parse_payload(text *payload, int entry);
extern void evlog_check_payload(Jsonb *payload, int entry);
extern char *evlog_entry_prefix(int entry);

/*
 * Argument positions of evlog_append(...) and evlog_enqueue(...), which
 * share their signature; evlog_event_from_values reads all but the payload.
 */
enum
{
	EVLOG_ARG_KIND,
	EVLOG_ARG_TS,
	EVLOG_ARG_HOST_ID,
	EVLOG_ARG_ROLLOUT_ID,
	EVLOG_ARG_PAYLOAD,
	EVLOG_ARG_EVENT_ID
};
extern void evlog_event_from_values(const NullableDatum *args, EvlogEvent *ev, int event_id_arg);

#endif							/* EVLOG_EVENT_H */
