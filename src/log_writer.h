/*-------------------------------------------------------------------------
 *
 * log_writer.h
 *	  The only code that writes evlog.event_log: event_id dedup,
 *	  executor-level insert, single, batched and conditional appends.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_LOG_WRITER_H
#define EVLOG_LOG_WRITER_H

#include "evlog.h"

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

/* before a large batch appended in several calls: lock all event_ids at once */
extern void evlog_writer_lock_all_event_ids(EvlogWriter *writer);

/*
 * Conditional appends (1.2): like the above, but each event's expect is
 * checked, under the stream's lock, after its event_id is resolved (a retry
 * of an append that landed returns its seq) and before any seq is spent.
 */
extern int64 evlog_writer_append_expected(EvlogWriter *writer, EvlogEvent *event);
extern void evlog_writer_append_many_expected(EvlogWriter *writer, int n,
											  EvlogFetchEvent fetch, void *arg,
											  int64 *seqs_out);

/* a retry of an append that landed must carry the same event */
extern void evlog_check_event_id(EvlogEvent *ev);

#endif							/* EVLOG_LOG_WRITER_H */
