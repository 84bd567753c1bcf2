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
 *	  batch.c       SQL entry points evlog_append_batch(...)
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
extern int	evlog_max_batch_entries;

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

/*
 * A batch is handed to the writer as a fetch callback rather than an array
 * of events, so that a 100,000-entry batch is never held in memory a second
 * time next to its input: the writer fetches entry "index" (0-based) into
 * *event whenever it needs it, allocating in CurrentMemoryContext, which
 * the writer resets.  fetch must validate the entry (raising the event.c
 * errors) and return the same event every time it is asked.
 */
typedef void (*EvlogFetchEvent) (void *arg, int index, EvlogEvent *event);

extern void evlog_writer_append_many(EvlogWriter *writer, int n,
									 EvlogFetchEvent fetch, void *arg,
									 int64 *seqs_out);
extern void evlog_writer_close(EvlogWriter *writer);
extern Oid	evlog_relid(const char *relname);

#endif							/* EVLOG_H */
