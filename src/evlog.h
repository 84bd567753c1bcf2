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
 *	  partition.c   the log's seq-range partitions (1.1): ordered scans
 *	                across them, creating them ahead of need
 *	  prune.c       retention: evlog_prune, the append-only triggers and
 *	                their one sanctioned bypass
 *	  watermark.c   the replicated safe-seq watermark for subscribers and
 *	                hot standbys
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_H
#define EVLOG_H

#include "postgres.h"

#include "access/htup.h"
#include "access/sdir.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
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

/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;
extern bool evlog_track_inflight;
extern bool evlog_notify;
extern int	evlog_partition_size;

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

/*
 * partition.c — the log's partitions.  An EvlogLogScan walks the log in seq
 * order (1.0 plain table or 1.1 partitions); its slot's columns are
 * numbered as in evlog.event_log.
 */
typedef struct EvlogPart
{
	Oid			relid;
	int64		lo;				/* lowest seq it can hold */
	int64		hi;				/* highest seq it can hold */
} EvlogPart;
typedef struct EvlogLogScan EvlogLogScan;

extern EvlogPart *evlog_log_parts(Relation log, int *nparts);
extern bool evlog_log_is_partitioned(Relation log);
extern void evlog_require_11(Relation log, const char *what);
extern EvlogLogScan *evlog_logscan_begin(Relation log, Snapshot snapshot,
										 int64 lo, int64 hi, ScanDirection dir);
extern struct TupleTableSlot *evlog_logscan_next(EvlogLogScan *s);
extern void evlog_logscan_end(EvlogLogScan *s);
extern int	evlog_partitions_ensure(int64 upto);
extern bool evlog_partitions_needed(Relation log, int64 seq);
extern void evlog_partitions_maintain(Oid owner, int64 seq);
extern void evlog_partitions_first(Oid owner);
extern bool evlog_partitions_exhausted(Relation log, int64 last_seq, int64 *upto);
extern PGDLLEXPORT void evlog_partition_worker_main(Datum main_arg);
extern int	evlog_pin_search_path(void);

/* prune.c — set while evlog_prune removes rows the triggers protect */
extern bool evlog_prune_active;

/*
 * watermark.c — on a subscriber or hot standby, the publisher's replicated
 * safe seq; returns false when this server is neither.
 */
extern bool evlog_replica_horizon(Relation log, int64 *safe);
extern bool evlog_is_subscribed(Oid relid);
extern void evlog_watermark_record_top(int64 top);

#endif							/* EVLOG_H */
