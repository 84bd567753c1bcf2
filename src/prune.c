/*-------------------------------------------------------------------------
 *
 * prune.c
 *	  Retention (evlog 1.1): evlog_prune(before).  The append-only
 *	  triggers it alone may pass, and how, are guard.c's.
 *
 * What evlog_prune(before) removes.  Whole partitions of evlog.event_log,
 * from the oldest on, as long as every event in the partition has
 * ts < before, every seq the partition can hold has been handed out
 * (appends can never land in it again) and, when the hash chain is in use,
 * every event in it is sealed.  It stops at the first partition that fails
 * one of these, so what is pruned is always a prefix of the log in seq
 * order: the granularity of retention is one partition
 * (evlog.partition_size seqs), and events older than the cut in a later
 * partition stay until their whole partition qualifies.  ts is supplied by
 * the appender, so "older" is judged per partition by its newest event;
 * retention events (stamped with the time of the prune that wrote them)
 * do not count, or a partition holding one could never be pruned: they go
 * with their partition, and the latest retention event's from_seq says
 * where the log now starts.
 *
 * In one transaction, holding SHARE UPDATE EXCLUSIVE on the log
 * throughout (one prune at a time, no partition attached meanwhile;
 * appenders are not blocked):
 *	  1. seal the chain up to the head when it is in use, so that no pruned
 *		 event goes unsealed;
 *	  2. choose the partitions: below evlog_safe_seq(), all older than the
 *		 cut, sealed, acknowledged by every named consumer (but those more
 *		 than evlog.max_consumer_lag_events behind, which are marked so
 *		 that they learn of the loss: consumer_hold below); their event counts come from evlog.partition_summaries,
 *		 taken once per closed partition in the background ("Partition
 *		 summaries" below), so choosing reads no rows;
 *	  3. while appends go on: the last pruned link goes to
 *		 evlog.chain_anchor and the links up to it are deleted (README,
 *		 "The hash chain": verification then starts from the anchor), and
 *		 so are the evlog.event_ids entries of pruned events: both hold one
 *		 row per event, appenders only insert into them, above the cut;
 *	  4. then under ACCESS EXCLUSIVE on the log (appenders and readers wait
 *		 for this part only; its length is reported at DEBUG1; the lock is
 *		 taken with a short lock_timeout and retried, so a transaction that
 *		 holds the log idle delays the prune, not the appenders: locks.c):
 *		 derived
 *		 rows that came from pruned events are deleted: probe_failures,
 *		 host_states and derived_skips rows by their event_log_seq,
 *		 rollouts by opened_event_log_seq (and, from 1.2, every rollout one
 *		 of whose registers in evlog.rollout_state names a pruned event);
 *		 those rollouts are then re-derived from their remaining events (their
 *		 transitions now meet an unknown rollout, exactly as evlog_rebuild
 *		 would find), so evlog_verify stays clean; rows of a user view's
 *		 target are deleted when the target has a bigint column
 *		 event_log_seq, by the target's owner, restricted (as_user.c;
 *		 everything else runs as the log's owner, restricted too), other
 *		 targets are left to their handler, which sees the retention
 *		 event; the partitions are detached and dropped;
 *	  5. a "retention" event records before, the seq range and the count.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "as_user.h"
#include "catcache.h"
#include "chain.h"
#include "derive.h"
#include "event.h"
#include "guard.h"
#include "locks.h"
#include "log_writer.h"
#include "logscan.h"
#include "prune.h"
#include "seqs.h"
#include "summaries.h"
#include "util.h"
#include "watermark.h"

PG_FUNCTION_INFO_V1(evlog_prune);

int			evlog_max_consumer_lag_events = -1;

/* ------------------------------------------------------------------------
 * evlog_prune
 * ------------------------------------------------------------------------
 */

/*
 * Delete rows of user views' targets that carry a pruned event_log_seq.  A
 * target is a table its own role owns, which can hang triggers and rules on
 * it: the DELETE runs as that owner, restricted (as_user.c), never as the
 * log's owner.  relkind is checked now, not only at registration: the owner
 * of an empty table can turn it into a view.  The caller is connected to SPI.
 */
static void
prune_user_targets(int64 cut)
{
	uint64		n;
	Oid		   *targets;

	evlog_spi_exec("SELECT v.target::pg_catalog.oid FROM evlog.derived_views v"
				   " JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) v.target"
				   " AND a.attname OPERATOR(pg_catalog.=) 'event_log_seq'"
				   " AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.int8'::pg_catalog.regtype"
				   " AND NOT a.attisdropped", SPI_OK_SELECT);
	n = SPI_processed;
	targets = palloc(sizeof(Oid) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		targets[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup;
		Form_pg_class cls;
		char	   *sql;
		EvlogAsUser as;

		CHECK_FOR_INTERRUPTS();
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(targets[i]));
		if (!HeapTupleIsValid(tup))
			continue;			/* dropped meanwhile: nothing to prune */
		cls = (Form_pg_class) GETSTRUCT(tup);
		if (cls->relkind != RELKIND_RELATION && cls->relkind != RELKIND_PARTITIONED_TABLE)
		{
			ReleaseSysCache(tup);
			ereport(WARNING,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("rows of \"%s\" not pruned: it is no longer a table",
							get_rel_name(targets[i])),
					 errhint("Unregister the view with evlog_unregister_view(), or make its target a table again.")));
			continue;
		}
		sql = psprintf("DELETE FROM %s WHERE event_log_seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
					   evlog_qualified_name(targets[i]), cut);
		evlog_as_user_begin(cls->relowner, EVLOG_AS_SPI, &as);
		ReleaseSysCache(tup);
		evlog_spi_exec(sql, SPI_OK_DELETE);
		evlog_as_user_end(&as);
	}
}

/*
 * Rollouts whose RolloutOpened was pruned: their remaining events are
 * derived again for the rollouts view only, in seq order, after their old
 * skip rows are removed: the result is what a rebuild from the remaining
 * log gives.
 */
static void
rederive_rollouts(Relation log, int64 cut, Datum pruned)
{
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1] = {pruned};
	uint64		n;
	EvlogDeriveTarget target = {EVLOG_VIEW_ROLLOUTS, false, 0, NULL};
	Snapshot	snap;
	TupleTableSlot *slot;
	EvlogLogScan *scan;
	int64	   *seqs;
	MemoryContext percxt;

	/* events that name a rollout whose row was just deleted */
	evlog_spi_exec_args(psprintf("SELECT DISTINCT e.seq FROM evlog.event_log e,"
				   " pg_catalog.unnest($1::pg_catalog.text[]) AS p(rollout_id)"
				   " WHERE e.seq OPERATOR(pg_catalog.>) " INT64_FORMAT
				   " AND e.kind OPERATOR(pg_catalog.=) ANY ('{rollout_event,effect}'::text[])"
				   " AND (e.rollout_id OPERATOR(pg_catalog.=) p.rollout_id"
				   "      OR e.payload OPERATOR(pg_catalog.->>) 'rolloutId' OPERATOR(pg_catalog.=) p.rollout_id"
				   "      OR e.payload OPERATOR(pg_catalog.->>) 'rollout_id' OPERATOR(pg_catalog.=) p.rollout_id)"
				   " ORDER BY e.seq", cut), 1, argtypes, args, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	if (n == 0)
		return;
	seqs = palloc(sizeof(int64) * n);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		seqs[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	evlog_spi_exec_args(psprintf("DELETE FROM evlog.derived_skips s USING evlog.event_log e,"
				   " pg_catalog.unnest($1::pg_catalog.text[]) AS p(rollout_id)"
				   " WHERE s.view OPERATOR(pg_catalog.=) 'rollouts'"
				   " AND e.seq OPERATOR(pg_catalog.>) " INT64_FORMAT
				   " AND s.event_log_seq OPERATOR(pg_catalog.=) e.seq"
				   " AND (e.rollout_id OPERATOR(pg_catalog.=) p.rollout_id"
				   "      OR e.payload OPERATOR(pg_catalog.->>) 'rolloutId' OPERATOR(pg_catalog.=) p.rollout_id"
				   "      OR e.payload OPERATOR(pg_catalog.->>) 'rollout_id' OPERATOR(pg_catalog.=) p.rollout_id)",
				   cut), 1, argtypes, args, NULL, SPI_OK_DELETE);

	snap = RegisterSnapshot(GetLatestSnapshot());
	percxt = AllocSetContextCreate(CurrentMemoryContext, "evlog prune rederive",
								   ALLOCSET_DEFAULT_SIZES);
	for (uint64 i = 0; i < n; i++)
	{
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		scan = evlog_logscan_begin(log, snap, seqs[i], seqs[i], ForwardScanDirection);
		if ((slot = evlog_logscan_next(scan)) != NULL)
		{
			EvlogEventRow ev;
			bool		shouldfree;
			HeapTuple	tup;

			oldcxt = MemoryContextSwitchTo(percxt);
			tup = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
			evlog_event_from_tuple(tup, RelationGetDescr(log), &ev);
			evlog_derive_event(&ev, &target);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(percxt);
		}
		evlog_logscan_end(scan);
	}
	MemoryContextDelete(percxt);
	UnregisterSnapshot(snap);
}

/* evlog.chain or evlog.chain_anchor has a row: the chain is in use. */
static bool
chain_in_use(void)
{
	bool		isnull;

	return evlog_spi_int8("SELECT pg_catalog.count(*) FROM ((SELECT 1 FROM evlog.chain LIMIT 1)"
						  " UNION ALL (SELECT 1 FROM evlog.chain_anchor LIMIT 1)) s", &isnull) > 0;
}

/*
 * Consumers hold retention back, as replication slots hold WAL: no event a
 * named consumer has not acknowledged is pruned, unless the consumer is
 * more than evlog.max_consumer_lag_events seqs behind the safe seq
 * ("closed"; -1, the default: never).  Returns the highest seq prune may
 * remove (PG_INT64_MAX: no consumer holds anything).  A consumer that
 * retention passes is marked (consumers.pruned_unread_upto, from 1.2 on;
 * see mark_passed_consumers) and its next evlog_consumer_next fails; on a
 * 1.1 database, which has no such column, every consumer holds.  Runs as
 * the log's owner, who owns evlog.consumers: row-level security does not
 * hide other roles' consumers from it.
 */
static bool
consumers_can_be_passed(void)
{
	bool		isnull;

	return evlog_max_consumer_lag_events >= 0 &&
		evlog_spi_int8("SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute"
					   " WHERE attrelid OPERATOR(pg_catalog.=) 'evlog.consumers'::pg_catalog.regclass"
					   " AND attname OPERATOR(pg_catalog.=) 'pruned_unread_upto' AND NOT attisdropped",
					   &isnull) > 0;
}

static int64
consumer_hold(int64 closed, bool passable)
{
	bool		isnull;
	int64		hold;

	if (passable)
		hold = evlog_spi_int8(psprintf("SELECT pg_catalog.min(position) FROM evlog.consumers"
									   " WHERE position OPERATOR(pg_catalog.>=) " INT64_FORMAT,
									   closed - evlog_max_consumer_lag_events), &isnull);
	else
		hold = evlog_spi_int8("SELECT pg_catalog.min(position) FROM evlog.consumers", &isnull);
	return isnull ? PG_INT64_MAX : hold;
}

/*
 * The consumers whose unacknowledged events this prune removes (those
 * beyond evlog.max_consumer_lag_events): remember up to where, so that
 * their next read says so instead of silently resuming after the gap.
 */
static void
mark_passed_consumers(int64 last_seq)
{
	uint64		n;

	n = evlog_spi_exec(psprintf("UPDATE evlog.consumers SET pruned_unread_upto ="
								" pg_catalog.int8larger(COALESCE(pruned_unread_upto, 0), " INT64_FORMAT ")"
								" WHERE position OPERATOR(pg_catalog.<) " INT64_FORMAT,
								last_seq, last_seq), SPI_OK_UPDATE);
	if (n > 0)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("evlog_prune removed events that " UINT64_FORMAT " named consumers had not acknowledged", n),
				 errdetail("They were more than evlog.max_consumer_lag_events (%d) seqs behind; their next evlog_consumer_next() fails until they acknowledge seq " INT64_FORMAT ".",
						   evlog_max_consumer_lag_events, last_seq)));
}

/*
 * Every lock phase 2 needs, taken at once through evlog_lock_strong (a
 * short lock_timeout, retried with backoff: locks.c), so that no statement
 * of phase 2 queues for a lock in front of appenders: ACCESS EXCLUSIVE on
 * the log, on each partition to drop (DETACH, DROP), and SHARE ROW
 * EXCLUSIVE, more than the SHARE lock DETACH takes, on each table with a
 * foreign key to the log (the derived tables).  The caller is connected to
 * SPI.
 */
static void
lock_for_removal(Oid logid, const EvlogPart *parts, int ndrop)
{
	EvlogLockRequest *reqs;
	uint64		nref;
	int			n = 0;

	evlog_spi_exec(psprintf("SELECT conrelid::pg_catalog.oid FROM pg_catalog.pg_constraint"
							" WHERE contype OPERATOR(pg_catalog.=) 'f'"
							" AND confrelid OPERATOR(pg_catalog.=) %u"
							" AND conparentid OPERATOR(pg_catalog.=) 0"
							" ORDER BY 1", logid), SPI_OK_SELECT);
	nref = SPI_processed;
	reqs = palloc(sizeof(EvlogLockRequest) * (1 + ndrop + nref));
	reqs[n].relid = logid;
	reqs[n++].mode = AccessExclusiveLock;
	for (int i = 0; i < ndrop; i++)
	{
		reqs[n].relid = parts[i].relid;
		reqs[n++].mode = AccessExclusiveLock;
	}
	for (uint64 i = 0; i < nref; i++)
	{
		bool		isnull;

		reqs[n].relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		reqs[n++].mode = ShareRowExclusiveLock;
	}
	evlog_lock_strong(reqs, n, "evlog_prune()", EVLOG_LOCK_GIVE_WAY);
	pfree(reqs);
}

/*
 * Which partitions to remove, from the oldest on: those below closed (no
 * append can land in them any more), all older than before, sealed up to
 * sealed and acknowledged up to hold.  Returns how many, with the count,
 * first and last seq of the events they hold.
 */
static int
choose_partitions(const EvlogPart *parts, int nparts, TimestampTz before,
				  int64 closed, int64 sealed, int64 hold,
				  int64 *count, int64 *first_seq, int64 *last_seq)
{
	int			ndrop = 0;

	*count = 0;
	*first_seq = 0;
	*last_seq = 0;
	for (int i = 0; i < nparts; i++)
	{
		EvlogPartStats ps;

		CHECK_FOR_INTERRUPTS();
		if (parts[i].hi > closed)
			break;				/* appends may still land in it */
		evlog_part_stats(&parts[i], before, &ps);
		if (!ps.all_older || (ps.count > 0 && ps.max_seq > sealed))
			break;
		if (ps.count > 0 && ps.max_seq > hold)
		{
			ereport(DEBUG1,
					(errmsg("evlog_prune: a named consumer at seq " INT64_FORMAT " holds retention back", hold)));
			break;
		}
		if (ps.count > 0 && *first_seq == 0)
			*first_seq = ps.min_seq;
		if (ps.count > 0)
			*last_seq = ps.max_seq;
		*count += ps.count;
		ndrop++;
	}
	return ndrop;
}

/*
 * Phase 1, appends going on: the chain links and event_id entries of the
 * pruned events, one per event, so the bulk of the work when events carry
 * an event_id or the chain is in use.  Appenders only ever insert into
 * these tables, above the cut.  The bypass is open only around these
 * statements, not while user targets are pruned (phase 2).
 */
static void
remove_links_and_ids(bool chain, int64 cut, int64 last_seq)
{
	evlog_prune_active = true;
	if (chain && last_seq > 0)
	{
		evlog_spi_exec(psprintf("INSERT INTO evlog.chain_anchor (seq, hash)"
								" SELECT c.seq, c.hash FROM evlog.chain c"
								" WHERE c.seq OPERATOR(pg_catalog.<=) " INT64_FORMAT
								" ORDER BY c.seq DESC LIMIT 1"
								" ON CONFLICT (seq) DO NOTHING", cut), SPI_OK_INSERT);
		evlog_spi_exec(psprintf("DELETE FROM evlog.chain WHERE seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
								cut), SPI_OK_DELETE);
	}
	evlog_spi_exec(psprintf("DELETE FROM evlog.event_ids WHERE seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
							cut), SPI_OK_DELETE);
	evlog_prune_active = false;
}

/*
 * Phase 2, under ACCESS EXCLUSIVE: the derived rows of pruned events
 * (appenders update host_states and rollouts rows, and the rollouts are
 * derived again from the log as it stands), user targets' rows, and the
 * pruned partitions' summaries.
 */
static void
remove_derived_rows(Oid logid, int64 cut)
{
	Datum		pruned;
	bool		isnull;

	evlog_spi_exec(psprintf("DELETE FROM evlog.probe_failures WHERE event_log_seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
							cut), SPI_OK_DELETE);
	evlog_spi_exec(psprintf("DELETE FROM evlog.derived_skips WHERE event_log_seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
							cut), SPI_OK_DELETE);
	evlog_spi_exec(psprintf("DELETE FROM evlog.host_states WHERE event_log_seq OPERATOR(pg_catalog.<=) " INT64_FORMAT,
							cut), SPI_OK_DELETE);
	/* no temporary table: this runs as a restricted operation */
	evlog_spi_exec(psprintf("WITH d AS (DELETE FROM evlog.rollouts"
							" WHERE opened_event_log_seq OPERATOR(pg_catalog.<=) " INT64_FORMAT
							" RETURNING rollout_id)"
							" SELECT pg_catalog.array_agg(rollout_id) FROM d", cut),
				   SPI_OK_SELECT);
	pruned = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (OidIsValid(get_relname_relid("rollout_state", get_rel_namespace(logid))))
	{
		Oid			argtypes[1] = {TEXTARRAYOID};
		Datum		args[1] = {isnull ? PointerGetDatum(construct_empty_array(TEXTOID)) : pruned};

		/*
		 * 1.2: a rollout's registers hold the seqs of its opening and of
		 * each field's last writer; when any of them is pruned, what the
		 * remaining events give is not known from the registers alone (the
		 * next-lowest opening, say), so the rollout is derived again from
		 * its remaining events, like one whose opening went.  No temporary
		 * table: this runs as a restricted operation.
		 */
		evlog_spi_exec_args(psprintf("WITH d AS (DELETE FROM evlog.rollout_state s"
									 " WHERE LEAST(s.open_seq, s.wave_seq, s.state_seq, s.terminal_seq,"
									 " s.superseded_seq, s.early_seqs[1]) OPERATOR(pg_catalog.<=) " INT64_FORMAT
									 " RETURNING s.rollout_id),"
									 " r AS (DELETE FROM evlog.rollouts r USING d"
									 " WHERE r.rollout_id OPERATOR(pg_catalog.=) d.rollout_id)"
									 " SELECT pg_catalog.array_agg(DISTINCT x) FROM"
									 " (SELECT d.rollout_id FROM d UNION ALL"
									 "  SELECT pg_catalog.unnest($1::pg_catalog.text[])) u(x)", cut), 1,
							argtypes, args, NULL, SPI_OK_SELECT);
		pruned = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	if (!isnull)
	{
		Relation	log = table_open(logid, NoLock);

		rederive_rollouts(log, cut, pruned);
		table_close(log, NoLock);
	}
	prune_user_targets(cut);
	evlog_spi_exec(psprintf("DELETE FROM evlog.partition_summaries WHERE hi OPERATOR(pg_catalog.<=) " INT64_FORMAT,
							cut), SPI_OK_DELETE);
}

/* Phase 2, last: detach and drop the partitions, past the DDL guard. */
static void
drop_partitions(const EvlogPart *parts, int ndrop)
{
	evlog_prune_dropping = true;
	for (int i = 0; i < ndrop; i++)
	{
		const char *name = quote_identifier(get_rel_name(parts[i].relid));
		bool		isnull;
		bool		member;

		evlog_spi_exec(psprintf("ALTER TABLE evlog.event_log DETACH PARTITION evlog.%s", name),
					   SPI_OK_UTILITY);
		/* the 1.0 table, attached by the update script, is an extension member */
		member = evlog_spi_int8(psprintf("SELECT pg_catalog.count(*) FROM pg_catalog.pg_depend"
										 " WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
										 " AND objid OPERATOR(pg_catalog.=) %u AND deptype OPERATOR(pg_catalog.=) 'e'",
										 parts[i].relid), &isnull) > 0;
		if (member)
			evlog_spi_exec(psprintf("ALTER EXTENSION evlog DROP TABLE evlog.%s", name),
						   SPI_OK_UTILITY);
		evlog_spi_exec(psprintf("DROP TABLE evlog.%s", name), SPI_OK_UTILITY);
	}
	evlog_prune_dropping = false;
}

/*
 * The removal itself, connected to SPI as the log's owner, holding SHARE
 * UPDATE EXCLUSIVE on the log (no other prune, no partition created or
 * attached meanwhile; appends go on).  Returns the number of events removed.
 */
static int64
prune_partitions(Oid logid, TimestampTz before, int64 *first_seq, int64 *last_seq,
				 int *nparts_dropped)
{
	Relation	log;
	EvlogPart  *parts;
	int			nparts;
	int			ndrop;
	int64		count;
	int64		closed;
	int64		sealed = PG_INT64_MAX;
	int64		hold;
	bool		passable;
	int64		cut;
	bool		isnull;
	bool		chain;
	instr_time	begun;
	instr_time	locked;
	instr_time	done;

	INSTR_TIME_SET_CURRENT(begun);
	chain = chain_in_use();
	if (chain)
	{
		(void) evlog_seal_upto(0);
		sealed = evlog_spi_int8("SELECT pg_catalog.max(seq) FROM evlog.chain", &isnull);
		if (isnull)
			sealed = evlog_spi_int8("SELECT pg_catalog.max(seq) FROM evlog.chain_anchor", &isnull);
	}

	/*
	 * Seqs no append can reach any more: every seq up to the safe seq has
	 * been handed out and is committed or will never exist (on a subscriber,
	 * whose rows come from the publisher: has arrived).  A partition wholly
	 * below it never changes again.
	 */
	closed = evlog_safe_seq();
	passable = consumers_can_be_passed();
	hold = consumer_hold(closed, passable);

	log = table_open(logid, NoLock);
	parts = evlog_log_parts(log, &nparts);
	table_close(log, NoLock);
	ndrop = choose_partitions(parts, nparts, before, closed, sealed, hold,
							  &count, first_seq, last_seq);
	*nparts_dropped = ndrop;
	if (ndrop == 0)
		return 0;
	cut = parts[ndrop - 1].hi;

	PG_TRY();
	{
		remove_links_and_ids(chain, cut, *last_seq);
		if (passable && *last_seq > 0)
			mark_passed_consumers(*last_seq);

		/* appenders and readers wait from here on */
		lock_for_removal(logid, parts, ndrop);
		INSTR_TIME_SET_CURRENT(locked);
		/* what we see must include every append that committed before the lock */
		CommandCounterIncrement();
		remove_derived_rows(logid, cut);
		drop_partitions(parts, ndrop);

		INSTR_TIME_SET_CURRENT(done);
		INSTR_TIME_SUBTRACT(done, locked);
		INSTR_TIME_SUBTRACT(locked, begun);
		ereport(DEBUG1,
				(errmsg("evlog_prune: %d partitions: %.3f ms with appends going on, then %.3f ms holding ACCESS EXCLUSIVE on the log before commit",
						ndrop, INSTR_TIME_GET_MILLISEC(locked), INSTR_TIME_GET_MILLISEC(done)),
				 errdetail("The commit, which releases the partitions' files, also holds the lock.")));
	}
	PG_FINALLY();
	{
		/* an error in either phase must not leave a bypass open */
		evlog_prune_active = false;
		evlog_prune_dropping = false;
	}
	PG_END_TRY();
	return count;
}

/*
 * evlog_prune(before timestamptz) returns bigint: remove the oldest
 * partitions whose events are all older than before (see the header), with
 * their derived rows, and append a retention event; returns the number of
 * events removed.
 */
Datum
evlog_prune(PG_FUNCTION_ARGS)
{
	TimestampTz before;
	Oid			logid = evlog_relid("event_log");
	Relation	log;
	Oid			owner;
	EvlogAsUser as;
	int64		first_seq;
	int64		last_seq;
	int			ndropped;
	int64		count;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("before must not be null")));
	before = PG_GETARG_TIMESTAMPTZ(0);
	PreventCommandIfReadOnly("evlog_prune()");

	/*
	 * The events it removes are judged committed by evlog_safe_seq(), which
	 * a transaction snapshot taken earlier may not show: their derived rows
	 * would stay behind.  0A000, as evlog_rebuild's refusal and as
	 * PostgreSQL's own refusal of an isolation level (SET TRANSACTION
	 * SNAPSHOT in READ COMMITTED).
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("evlog_prune() cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errhint("Run it in a READ COMMITTED transaction, or on its own.")));

	log = table_open(logid, AccessShareLock);
	evlog_require_11(log, "evlog_prune()");
	owner = log->rd_rel->relowner;
	table_close(log, NoLock);

	{
		/* behind a partition being created: do not wait for long either */
		EvlogLockRequest req = {logid, ShareUpdateExclusiveLock};

		evlog_lock_strong(&req, 1, "evlog_prune()", 0);
	}
	evlog_as_user_begin(owner, EVLOG_AS_SPI, &as);
	count = prune_partitions(logid, before, &first_seq, &last_seq, &ndropped);
	evlog_as_user_end(&as);

	if (ndropped > 0 && evlog_is_subscribed(logid))
	{
		/*
		 * A subscriber's log is its publisher's: a local append would take a
		 * seq the publisher hands out too.  Say what was removed instead.
		 */
		ereport(NOTICE,
				(errmsg("evlog_prune removed " INT64_FORMAT " events (seqs " INT64_FORMAT " to " INT64_FORMAT
						") in %d partitions from this subscriber's log",
						count, first_seq, last_seq, ndropped),
				 errdetail("No retention event is appended on a subscriber; the publisher's own retention events arrive like any other.")));
	}
	else if (ndropped > 0)
	{
		EvlogWriter *w = evlog_writer_open();
		EvlogEvent	ev;
		char	   *payload;

		payload = psprintf("{\"before\": \"%s\", \"from_seq\": " INT64_FORMAT
						   ", \"to_seq\": " INT64_FORMAT ", \"count\": " INT64_FORMAT
						   ", \"partitions\": %d}",
						   timestamptz_to_str(before), first_seq, last_seq, count, ndropped);
		memset(&ev, 0, sizeof(ev));
		ev.kind = cstring_to_text("retention");
		ev.ts = GetCurrentTransactionStartTimestamp();
		ev.payload = evlog_parse_payload(cstring_to_text(payload), -1);
		(void) evlog_writer_append(w, &ev);
		evlog_writer_close(w);
	}
	PG_RETURN_INT64(count);
}

/* ------------------------------------------------------------------------
 * The DDL guard (see the header)
 * ------------------------------------------------------------------------
 */
