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
 *	  queue.c       shared-memory queues (one ring per database), enqueue
 *	                side, evlog.queue_status
 *	  enqueue.c     SQL entry points evlog_enqueue/evlog_flush, commit-time
 *	                queuing (transaction callbacks)
 *	  worker.c      launcher and per-database writer background workers
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_H
#define EVLOG_H

#include "postgres.h"

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

/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;
extern int	evlog_max_databases;
extern int	evlog_queue_size_kb;
extern int	evlog_batch_size;
extern int	evlog_flush_interval_ms;
extern int	evlog_enqueue_timeout_ms;
extern int	evlog_flush_lock_timeout_ms;
extern int	evlog_enqueue_mode;
extern int	evlog_overflow;

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
extern EvlogQueueSlot *evlog_queue_slot(Oid dboid, bool create);
extern EvlogQueueSlot *evlog_queue_slot_claim(Oid dboid, bool create);
extern int	evlog_queue_slot_index(EvlogQueueSlot *slot);
extern Size evlog_entry_size(EvlogEvent *ev);
extern void evlog_entry_write(char *dst, EvlogEvent *ev, int64 ticket,
							  TransactionId xid, uint8 state);
extern void evlog_entry_decode(char *src, EvlogEvent *ev);

/* producer side */
extern void evlog_queue_ensure_worker(EvlogQueueSlot *slot);
extern bool evlog_queue_push(EvlogQueueSlot *slot, const char *data, Size len,
							 int nentries, int64 first_ticket,
							 int64 last_ticket, uint64 *start, uint64 *end);
extern void evlog_queue_decide(EvlogQueueSlot *slot, uint64 start, uint64 end,
							   bool committed);
extern void evlog_queue_add_abandoned(EvlogQueueSlot *slot, int64 *tickets,
									  int n);
extern bool evlog_queue_wait_flushed(EvlogQueueSlot *slot, uint64 pos,
									 long timeout_ms);

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
extern bool evlog_queue_needs_recovery(EvlogQueueSlot *slot);
extern void evlog_queue_set_recovered(EvlogQueueSlot *slot, int64 floor,
									  uint64 lost);
extern uint64 evlog_queue_count_tickets(EvlogQueueSlot *slot, int64 above,
										int64 upto);
extern void evlog_queue_stats(int index, EvlogQueueStats *stats);

/* worker.c */
extern void evlog_worker_register_launcher(void);
extern bool evlog_worker_start(Oid dboid);

#endif							/* EVLOG_H */
