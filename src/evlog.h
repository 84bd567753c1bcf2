/*-------------------------------------------------------------------------
 *
 * evlog.h
 *	  Declarations shared by evlog's C files.
 *
 * Where things live:
 *	  evlog.c       module load, GUCs
 *	  event.c       validation of one event's fields (every append path)
 *	  log_writer.c  the only code that writes evlog.event_log: seq
 *	                allocation, event_id dedup, executor-level insert
 *	  append.c      SQL entry points evlog_append(...)
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_H
#define EVLOG_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;

/*
 * One validated event, ready to be written.  Text fields are NULL pointers
 * when SQL NULL.  seq is filled in by the writer.
 */
typedef struct EvlogEvent
{
	text	   *kind;
	TimestampTz ts;
	text	   *host_id;
	text	   *rollout_id;
	Jsonb	   *payload;
	text	   *event_id;
} EvlogEvent;

/*
 * event.c — validation.  "entry" is the 0-based index of the event in a
 * batch, or -1 for a single append; errors then name the entry.
 */
extern void evlog_require_not_null(bool isnull, const char *field, int entry);
extern void evlog_check_text(text *value, const char *field, int entry);
extern void evlog_check_kind(text *kind, int entry);
extern void evlog_check_ts(TimestampTz ts, int entry);
extern Jsonb *evlog_parse_payload(text *payload, int entry);
extern void evlog_check_payload(Jsonb *payload, int entry);
extern char *evlog_entry_prefix(int entry);

/* log_writer.c — writing the log */
typedef struct EvlogWriter EvlogWriter;

extern EvlogWriter *evlog_writer_open(void);
extern int64 evlog_writer_append(EvlogWriter *writer, EvlogEvent *event);
extern void evlog_writer_close(EvlogWriter *writer);
extern Oid	evlog_relid(const char *relname);

#endif							/* EVLOG_H */
