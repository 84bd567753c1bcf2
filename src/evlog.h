/*-------------------------------------------------------------------------
 *
 * evlog.h
 *	  Declarations shared by evlog's C files.
 *
 * Where things live:
 *	  evlog.c       module load, GUCs
 *	  event.c       validation of one event's fields (every append path)
 *	  seqs.c        seq allocation, the in-flight set, NOTIFY evlog
 *	  log_writer.c  the only code that writes evlog.event_log:
 *	                event_id dedup, executor-level insert
 *	  read.c        late-commit-safe reading: evlog_read, evlog_safe_seq
 *	  append.c      SQL entry points evlog_append(...)
 *	  derive.c      per-event rules of the derived tables (one code path for
 *	                the trigger and the rebuild)
 *	  derive_trigger.c  the AFTER INSERT trigger, user-view registry cache
 *	  rebuild.c     evlog_rebuild / evlog_verify, progress reporting
 *	  chain.c       tamper evidence: the SHA-256 hash chain, sealing and
 *	                verifying it
 *	  batch.c       SQL entry points evlog_append_batch(...)
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_H
#define EVLOG_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * evlog's advisory lock tags: (database, EVLOG_LOCKTAG_MAGIC or data,
 * data, one of these in field4).  SQL-level advisory locks use field4 = 1
 * or 2, so ours never collide with an application's.
 */
#define EVLOG_LOCKTAG_MAGIC		0x45564c47	/* "EVLG" */
#define EVLOG_LOCK_ALLOCATE		0x4576	/* seq allocation (seqs.c) */
#define EVLOG_LOCK_EVENT_ID		0x4577	/* one event_id (log_writer.c) */
#define EVLOG_LOCK_INFLIGHT		0x4578	/* a transaction's lowest seq (seqs.c) */
#define EVLOG_LOCK_SEAL			0x4579	/* the one sealer of the chain (chain.c) */
#define EVLOG_LOCK_ALL_EVENT_IDS	0x457A	/* every event_id at once (log_writer.c) */

/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;
extern bool evlog_track_inflight;
extern bool evlog_notify;
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

/* seqs.c — seq allocation and the in-flight set */
extern void evlog_seqs_init(void);
extern int64 evlog_allocate_seqs(Oid log_relid, Oid seq_relid, int n);
extern int64 evlog_safe_seq(void);
extern int	evlog_inflight(int64 **seqs, int **pids);

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

/*
 * derive.c — one event_log row as the derived-table rules see it.  Datums
 * point into the caller's tuple; payload may still be toasted (it is only
 * detoasted for events whose kind feeds a derived table).
 */
typedef struct EvlogEventRow
{
	int64		seq;
	TimestampTz ts;
	text	   *kind;
	text	   *host_id;		/* NULL when SQL NULL */
	text	   *rollout_id;		/* NULL when SQL NULL */
	Datum		payload;
	HeapTuple	tuple;			/* the whole row, for user-view handlers */
	TupleDesc	tupdesc;
} EvlogEventRow;

/* Built-in derived tables, as bits so a target can name several. */
#define EVLOG_VIEW_PROBE_FAILURES	0x01
#define EVLOG_VIEW_ROLLOUTS			0x02
#define EVLOG_VIEW_HOST_STATES		0x04
#define EVLOG_VIEW_ALL_BUILTIN		0x07

/* One user-registered view, resolved for calling. */
typedef struct EvlogUserView
{
	char	   *name;
	Oid			handler;
	Oid			handler_owner;
	Oid			target;
	FmgrInfo	flinfo;
} EvlogUserView;

/*
 * Where derive_event() writes: which built-in views, into the real tables or
 * the session's staging copies (rebuild), and which user views.
 */
typedef struct EvlogDeriveTarget
{
	int			builtin;		/* EVLOG_VIEW_* bits */
	bool		staging;		/* write pg_temp.evlog_stage_* instead */
	int			nuser;
	EvlogUserView *user;
} EvlogDeriveTarget;

extern void evlog_event_from_tuple(HeapTuple tuple, TupleDesc desc, EvlogEventRow *ev);
extern int	evlog_event_feeds(const EvlogEventRow *ev);
extern bool evlog_kind_feeds_builtin(const text *kind);
extern void evlog_derive_event(const EvlogEventRow *ev, const EvlogDeriveTarget *target);
extern const char *evlog_builtin_view_name(int view);
extern int	evlog_builtin_view_from_name(const char *name);
extern const char *evlog_builtin_table(int view, bool staging);
extern void evlog_derive_staging_begin(int builtin);
extern void evlog_derive_staging_end(void);

/* derive_trigger.c — cached list of user-registered views */
extern EvlogUserView *evlog_user_views(int *n);
extern EvlogUserView *evlog_user_view_lookup(const char *name);
extern bool evlog_user_views_none(void);

/*
 * chain.c — the hash chain.  evlog_seal_upto() seals up to max_events
 * (<= 0: all) events up to evlog_safe_seq() and returns how many; call it
 * inside a transaction and commit soon: it holds the sealer's lock until
 * the transaction ends.
 */
extern int64 evlog_seal_upto(int64 max_events);

#endif							/* EVLOG_H */
