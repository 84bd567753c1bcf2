/*-------------------------------------------------------------------------
 *
 * evlog.h
 *	  Declarations shared by evlog's C files.
 *
 * Where things live:
 *	  evlog.c       module load, GUCs
 *	  event.c       validation of one event's fields (every append path)
 *	  seqs.c        seq allocation, the in-flight set, NOTIFY evlog
 *	  notify.c      the per-database notifier that sends NOTIFY evlog for
 *	                appenders after they commit (preloaded only)
 *	  catcache.c    backend-local caches of the hot path's catalog lookups
 *	  log_writer.c  the only code that writes evlog.event_log:
 *	                event_id dedup, executor-level insert
 *	  read.c        late-commit-safe reading: evlog_read, evlog_safe_seq
 *	  append.c      SQL entry points evlog_append(...)
 *	  derive.c      per-event rules of the derived tables (one code path for
 *	                the trigger and the rebuild)
 *	  derive_trigger.c  the AFTER INSERT trigger, user-view registry cache,
 *	                the derived tables' check that a row names an event (1.2)
 *	  rebuild.c     evlog_rebuild / evlog_verify, progress reporting
 *	  chain.c       tamper evidence: the SHA-256 hash chain, sealing and
 *	                verifying it
 *	  partition.c   the log's seq-range partitions (1.1): ordered scans
 *	                across them, creating them ahead of need
 *	  retention.c   scheduled pruning (evlog.retention) by a worker per database
 *	  prune.c       retention: evlog_prune, the append-only triggers and
 *	                their one sanctioned bypass
 *	  watermark.c   the replicated safe-seq watermark for subscribers and
 *	                hot standbys
 *	  batch.c       SQL entry points evlog_append_batch(...)
 *	  queue.c       shared-memory queues (one ring per database using one
 *	                at the moment), enqueue side, evlog.queue_status
 *	  enqueue.c     SQL entry points evlog_enqueue/evlog_flush, commit-time
 *	                queuing (transaction callbacks)
 *	  worker.c      launcher and per-database writer background workers
 *	  stream.c      streams (one rollout's or one host's events): conditional
 *	                append's lock and head check, evlog_stream_head (1.2)
 *	  as_user.c     running statements as another role (the log's owner,
 *	                a handler's or a target's owner), restricted and with
 *	                settings pinned
 *	  locks.c       maintenance's strong locks: short lock_timeout, retried
 *	                with backoff, bounded in total
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
#define EVLOG_LOCK_ALL_EVENT_IDS	0x457A	/* every event_id at once (log_writer.c) */
#define EVLOG_LOCK_STREAM_ROLLOUT	0x457B	/* one rollout's stream (stream.c) */
#define EVLOG_LOCK_STREAM_HOST	0x457C	/* one host's stream (stream.c) */

/*
 * as_user.c — run as another role: SECURITY_RESTRICTED_OPERATION (unless
 * EVLOG_AS_TEMP_TABLES), search_path and table placement pinned in a new
 * GUC nest level, optionally connected to SPI.
 */
#define EVLOG_AS_SPI			0x01	/* SPI_connect / SPI_finish too */
#define EVLOG_AS_TEMP_TABLES	0x02	/* evlog's own temp tables: see as_user.c */

typedef struct EvlogAsUser
{
	Oid			save_user;
	int			save_sec;
	int			nestlevel;
	bool		spi;
} EvlogAsUser;
extern void evlog_as_user_begin(Oid user, int flags, EvlogAsUser *as);
extern void evlog_as_user_end(EvlogAsUser *as);
extern void evlog_worker_pin_settings(void);

/*
 * locks.c — strong locks for maintenance (prune, rebuild), never queued
 * for long in front of appenders.
 */
extern int	evlog_maintenance_lock_timeout_ms;
extern int	evlog_maintenance_lock_wait_ms;

typedef struct EvlogLockRequest
{
	Oid			relid;
	int			mode;			/* a LOCKMODE */
} EvlogLockRequest;
#define EVLOG_LOCK_GIVE_WAY		0x01	/* see locks.c */
extern void evlog_lock_strong(const EvlogLockRequest *reqs, int n, const char *what,
							  int flags);

/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;
extern bool evlog_track_inflight;
extern bool evlog_notify;
extern int	evlog_partition_size;
extern int	evlog_max_batch_entries;
extern int	evlog_max_databases;
extern int	evlog_queue_size_kb;
extern int	evlog_batch_size;
extern int	evlog_flush_interval_ms;
extern int	evlog_enqueue_timeout_ms;
extern int	evlog_flush_lock_timeout_ms;
extern int	evlog_enqueue_mode;
extern int	evlog_overflow;
extern int	evlog_max_writers;
extern int	evlog_writer_idle_timeout_ms;
extern int	evlog_notifier_idle_timeout_ms;
extern int	evlog_test_pause_at;

/*
 * Test-only pauses (evlog.test_pause_at, superuser): the paused process
 * waits for the SQL advisory lock pg_advisory_lock(EVLOG_TEST_PAUSE_KEY) in
 * its database, so a test holds that lock, watches the wait in pg_locks,
 * and releases it.
 */
#define EVLOG_TEST_PAUSE_KEY		1163283527	/* "EVLG" */
typedef enum EvlogTestPause
{
	EVLOG_PAUSE_NONE,
	EVLOG_PAUSE_PRE_COMMIT_PUSH,	/* producer, before its PRE_COMMIT push */
	EVLOG_PAUSE_WRITER_RECOVERY		/* writer, before crash accounting */
} EvlogTestPause;
extern void evlog_test_pause(EvlogTestPause at);

typedef enum EvlogEnqueueMode
{
	EVLOG_ENQUEUE_COMMIT,		/* queue at commit; rollback logs nothing */
	EVLOG_ENQUEUE_CALL			/* queue at call; survives rollback */
} EvlogEnqueueMode;

typedef enum EvlogOverflow
{
	EVLOG_OVERFLOW_BLOCK,		/* wait for room, then error */
	EVLOG_OVERFLOW_DROP			/* drop, count, record a gap */
} EvlogOverflow;

/*
 * A conditional append's expectation about one stream (stream.c): the
 * stream's latest seq must be seq (EVLOG_STREAM_EMPTY: no event yet).  In a
 * batch, EVLOG_EXPECT_PREVIOUS stands for "the previous entry of the same
 * stream in this batch", whose seq the caller cannot know in advance.
 */
typedef enum EvlogStreamKind
{
	EVLOG_STREAM_NONE = 0,		/* no expectation: an unconditional append */
	EVLOG_STREAM_ROLLOUT,		/* the events of one rollout_id */
	EVLOG_STREAM_HOST			/* the events of one host_id */
} EvlogStreamKind;

#define EVLOG_STREAM_EMPTY		0
#define EVLOG_EXPECT_PREVIOUS	(-1)

typedef struct EvlogExpect
{
	EvlogStreamKind stream;
	int64		seq;
} EvlogExpect;

/*
 * One validated event, ready to be written.  Text fields are NULL pointers
 * when SQL NULL.  seq is filled in by the writer.  expect is read only by
 * the conditional paths (evlog_writer_append_expected, and batches written
 * with_expect); other producers of events may leave it unset.
 */
typedef struct EvlogEvent
{
	text	   *kind;
	TimestampTz ts;
	text	   *host_id;
	text	   *rollout_id;
	Jsonb	   *payload;
	text	   *event_id;
	EvlogExpect expect;
} EvlogEvent;

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
 * share their signature; evlog_event_from_args reads all but the payload.
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
extern void evlog_event_from_args(FunctionCallInfo fcinfo, EvlogEvent *ev, int event_id_arg);

/* seqs.c — seq allocation and the in-flight set */
extern void evlog_seqs_init(void);

/* notify.c — NOTIFY evlog from the notifier process */
extern void evlog_notify_init(void);
extern bool evlog_notify_join(void);
extern void evlog_notify_leave(int64 last_seq, bool committed);
extern PGDLLEXPORT void evlog_notifier_main(Datum main_arg);
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

/*
 * Conditional appends (1.2): like the above, but each event's expect is
 * checked, under the stream's lock, after its event_id is resolved (a retry
 * of an append that landed returns its seq) and before any seq is spent.
 */
extern int64 evlog_writer_append_expected(EvlogWriter *writer, EvlogEvent *event);
extern void evlog_writer_append_many_expected(EvlogWriter *writer, int n,
											  EvlogFetchEvent fetch, void *arg,
											  int64 *seqs_out);

/* stream.c — streams and their heads */
extern EvlogStreamKind evlog_stream_kind(text *name, int entry);
extern text *evlog_stream_id(EvlogEvent *ev, EvlogStreamKind stream, int entry);
extern void evlog_stream_lock(EvlogStreamKind stream, text *id);
extern void evlog_stream_expect(Relation log, EvlogEvent *ev, int entry);
extern void evlog_expect_from_args(FunctionCallInfo fcinfo, int stream_arg,
								   int seq_arg, EvlogExpect *x, int entry);
extern void evlog_check_event_id(EvlogEvent *ev);
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
/* not a view: the rollouts' registers (1.2), rebuilt and verified with them */
#define EVLOG_TABLE_ROLLOUT_STATE	0x100

/* One user-registered view, resolved for calling. */
typedef struct EvlogUserView
{
	char	   *name;
	Oid			handler;
	Oid			handler_owner;
	Oid			target;
	bool		unsafe_path;	/* handler SETs a search_path not ending in pg_temp */
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
extern void evlog_derive_event_lazy(const EvlogEventRow *ev, const EvlogDeriveTarget *target,
									Oid owner);
extern void evlog_derive_check(const EvlogEvent *event);
extern int64 evlog_derived_from_seq;
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

#define EVLOG_LOG_NATTS		7	/* evlog.event_log's columns */
extern void evlog_check_log_layout(Relation rel);
extern EvlogPart *evlog_log_parts(Relation log, int *nparts);
extern bool evlog_log_is_partitioned(Relation log);
extern void evlog_require_11(Relation log, const char *what);
extern EvlogLogScan *evlog_logscan_begin(Relation log, Snapshot snapshot,
										 int64 lo, int64 hi, ScanDirection dir);
extern struct TupleTableSlot *evlog_logscan_next(EvlogLogScan *s);
extern void evlog_logscan_end(EvlogLogScan *s);
/*
 * Most partitions one transaction creates: from the append path and
 * triggers, and from evlog_create_partitions() (its "ahead" limit).
 */
#define EVLOG_PARTITIONS_AUTO_MAX	2
#define EVLOG_PARTITIONS_CALL_MAX	64
extern int	evlog_partitions_ensure(int64 upto, int max_new);
extern bool evlog_partitions_needed(Relation log, int64 seq);
extern void evlog_partitions_maintain(Oid owner, int64 seq);
extern void evlog_partitions_first(Oid owner);
extern bool evlog_partitions_exhausted(Relation log, int64 last_seq, int64 *upto);
extern PGDLLEXPORT void evlog_partition_worker_main(Datum main_arg);

/* prune.c — set while evlog_prune removes rows the triggers protect */
extern bool evlog_prune_active;
extern int	evlog_max_consumer_lag_events;
extern int	evlog_partitions_summarise(void);
extern PGDLLEXPORT Datum evlog_prune(PG_FUNCTION_ARGS);

/* retention.c — scheduled pruning, started by the launcher (worker.c) */
extern int	evlog_retention_s;
extern int	evlog_retention_check_interval_s;
extern bool evlog_retention_due(void);
extern void evlog_retention_start_round(List *dbs);
extern PGDLLEXPORT void evlog_retention_main(Datum main_arg);

/*
 * watermark.c — on a subscriber or hot standby, the publisher's replicated
 * safe seq; returns false when this server is neither.
 */
extern bool evlog_replica_horizon(Relation log, int64 *safe);
extern bool evlog_is_subscribed(Oid relid);

/* catcache.c — cached catalog lookups of the hot path (evlog_relid above) */
extern bool evlog_is_subscribed_cached(Oid relid);
extern bool evlog_kind_registered(text *kind);
extern void evlog_watermark_record_top(int64 top);

/*
 * queue.c — the shared-memory queues.
 *
 * An entry in a queue ring: this header, then kind, [host_id], [rollout_id],
 * payload, [event_id], each a varlena with a 4-byte header starting at a
 * MAXALIGNed offset.  len covers all of it and is MAXALIGNed, so every entry
 * starts MAXALIGNed in the ring and in any copy of a run of entries.
 */
#define EVLOG_ENTRY_PENDING		0	/* pushed at PRE_COMMIT, not decided */
#define EVLOG_ENTRY_COMMITTED	1	/* the worker may write it */
#define EVLOG_ENTRY_ABORTED		2	/* its transaction rolled back: skip */

#define EVLOG_ENTRY_HAS_HOST		0x01
#define EVLOG_ENTRY_HAS_ROLLOUT		0x02
#define EVLOG_ENTRY_HAS_EVENT_ID	0x04

typedef struct EvlogQueueEntry
{
	uint32		len;			/* whole entry, MAXALIGNed */
	uint8		state;			/* EVLOG_ENTRY_* */
	uint8		flags;			/* EVLOG_ENTRY_HAS_* */
	uint16		pad;
	int32		pid;			/* producer, while the entry is pending */
	TransactionId xid;			/* producer's top-level xid, if it had one */
	Oid			role;			/* current user at evlog_enqueue */
	int64		ticket;
	TimestampTz ts;
	TimestampTz enqueued_at;
} EvlogQueueEntry;

typedef struct EvlogQueueSlot EvlogQueueSlot;

/* A run of entries copied out of a ring by the worker. */
typedef struct EvlogBatch
{
	char	   *data;			/* copy of the ring bytes [start, end) */
	uint64		start;
	uint64		end;
	int			nentries;		/* entries in the copy, aborted included */
	int			naborted;
	EvlogEvent *events;			/* the committed ones, decoded */
	int64	   *tickets;
	TimestampTz *enqueued_at;
	Oid		   *roles;			/* who enqueued each */
	int			nevents;
} EvlogBatch;

/* Counters and state of one queue, as evlog.queue_status shows them. */
typedef struct EvlogQueueStats
{
	Oid			dboid;
	uint64		capacity;
	uint64		used;
	uint64		pending;
	uint64		accepted;
	uint64		flushed;
	uint64		batches;
	uint64		retries;
	uint64		dead_lettered;
	uint64		dropped;
	uint64		crash_lost;
	TimestampTz last_flush_at;
	int			worker_pid;
	char		last_error[256];
} EvlogQueueStats;

/* Drops and rolled-back tickets the worker has yet to record durably. */
typedef struct EvlogUnrecorded
{
	uint64		drops;
	int64		drop_first;
	int64		drop_last;
	uint64		abandoned;
} EvlogUnrecorded;

extern void evlog_queue_init(void);
extern bool evlog_queue_enabled(void);
extern int	evlog_queue_nslots(void);
extern EvlogQueueSlot *evlog_queue_slot_claim(Oid dboid);
extern int	evlog_queue_slot_index(EvlogQueueSlot *slot);
extern Size evlog_entry_size(EvlogEvent *ev);
extern void evlog_entry_write(char *dst, EvlogEvent *ev, int64 ticket,
							  TransactionId xid, uint8 state);
extern void evlog_entry_decode(char *src, EvlogEvent *ev);

/* producer side */
extern EvlogQueueSlot *evlog_queue_join(uint32 *generation, bool *report_tickets);
extern void evlog_queue_leave(EvlogQueueSlot *slot);
extern uint64 evlog_queue_claim_of(EvlogQueueSlot *slot);
extern void evlog_queue_ticket_begin(EvlogQueueSlot *slot);
extern void evlog_queue_ticket_end(EvlogQueueSlot *slot, int64 ticket);
extern void evlog_queue_want_writer(EvlogQueueSlot *slot);
extern bool evlog_queue_push(EvlogQueueSlot *slot, uint32 generation,
							 const char *data, Size len, int nentries,
							 int64 first_ticket, int64 last_ticket,
							 uint64 *start, uint64 *end);
extern void evlog_queue_decide(EvlogQueueSlot *slot, uint64 start, uint64 end,
							   bool committed);
extern void evlog_queue_add_abandoned(EvlogQueueSlot *slot, int64 *tickets,
									  int n);
extern bool evlog_queue_wait_flushed(uint64 claim, uint64 pos, long timeout_ms);

/* worker side */
extern bool evlog_queue_attach_worker(EvlogQueueSlot *slot);
extern bool evlog_queue_flush_due(EvlogQueueSlot *slot, long *sleep_ms,
								  bool draining);
extern bool evlog_queue_take(EvlogQueueSlot *slot, EvlogBatch *batch,
							 int max_entries, int *blocked_pid);
extern void evlog_queue_abort_stale(EvlogQueueSlot *slot, int pid);
extern void evlog_queue_consumed(EvlogQueueSlot *slot, EvlogBatch *batch,
								 int nflushed, int ndead);
extern void evlog_queue_take_unrecorded(EvlogQueueSlot *slot,
										EvlogUnrecorded *u);
extern void evlog_queue_return_unrecorded(EvlogQueueSlot *slot,
										  EvlogUnrecorded *u);
extern void evlog_queue_note_error(EvlogQueueSlot *slot, const char *msg,
								   bool retry);
extern bool evlog_queue_fix_boundary(EvlogQueueSlot *slot, int64 last,
									 int64 *boundary);
extern void evlog_queue_boundary_known(EvlogQueueSlot *slot);
extern void evlog_queue_add_crash_lost(EvlogQueueSlot *slot, uint64 lost);
extern TimestampTz evlog_queue_lifetime_start(void);
extern bool evlog_queue_has_unrecorded(EvlogQueueSlot *slot);
extern bool evlog_queue_close_if_drained(EvlogQueueSlot *slot, int64 floor);
extern bool evlog_queue_release_if_idle(EvlogQueueSlot *slot);
extern bool evlog_queue_others_waiting(EvlogQueueSlot *slot);
extern void evlog_queue_stats(int index, EvlogQueueStats *stats);

/* launcher side */
struct Latch;
extern void evlog_queue_set_launcher(struct Latch *latch);
extern int	evlog_queue_wanted(Oid *dbs);
extern uint64 evlog_queue_discard(Oid dboid);

/* worker.c */
struct BackgroundWorker;
extern void evlog_bgworker_init(struct BackgroundWorker *bgw, const char *function,
								const char *type, Oid dboid);
extern void evlog_worker_register_launcher(void);

#endif							/* EVLOG_H */
