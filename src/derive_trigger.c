/*-------------------------------------------------------------------------
 *
 * derive_trigger.c
 *	  The AFTER INSERT FOR EACH ROW trigger on evlog.event_log that keeps
 *	  every derived table in step with the log, and the backend-local cache
 *	  of user-registered views it calls.
 *
 * The trigger hands each new row to evlog_derive_event() (derive.c), the
 * same function evlog_rebuild replays the log through.  Because it is an
 * AFTER ROW trigger, it fires for every row however it was inserted: single
 * appends, a batch path's multi-row insert (AFTER ROW triggers do not prevent
 * table_multi_insert), logical replication apply (it is ENABLE ALWAYS) and a
 * restore of the log.  evlog's own writer skips the trigger queue when
 * evlog_derive_directly() says the trigger would do nothing else, and calls
 * the trigger's body (evlog_derive_slot) itself.
 *
 * Privileges: appenders hold EXECUTE on evlog_append, not INSERT on the
 * derived tables, so the built-in writes run as the owner of evlog.event_log
 * (the extension owner), the way a SECURITY DEFINER function would, through
 * evlog_as_user_begin() (as_user.c: restricted, search_path pinned); only
 * events that feed a derived table or when user views exist pay for it (the
 * fast path below), and without user views only when a rule actually runs
 * a statement (evlog_derive_event_lazy: a passing probe writes nothing).  User handlers run as their own owner (derive.c).
 *
 * From 1.2 the derived tables carry evlog.derived_seq_check (below) where
 * they had foreign keys to the log: every derived row names an event.
 *
 * The user-view cache is rebuilt lazily after a relcache invalidation of
 * evlog.derived_views, which the statement trigger below sends whenever the
 * registry changes (including when pg_restore loads it with COPY), and
 * after any change to pg_proc: the cache holds each handler's owner, the
 * role it runs as, and an ALTER FUNCTION ... OWNER TO must take effect in
 * every session at once, pooled long-lived ones included.  A handler or
 * target that is still registered cannot be dropped (the evlog.guard_drop
 * event trigger, 1.2), so the cache never names a function that is gone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "as_user.h"
#include "catcache.h"
#include "derive.h"
#include "logscan.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_derive_trigger);
PG_FUNCTION_INFO_V1(evlog_derived_views_changed);
PG_FUNCTION_INFO_V1(evlog_derived_seq_check);

static MemoryContext views_cxt = NULL;
static EvlogUserView *views = NULL;
static int	nviews = 0;
static bool views_valid = false;
static Oid	views_relid = InvalidOid;
static bool callback_registered = false;

static void
views_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == views_relid)
		views_valid = false;
}

/* any pg_proc change: a handler's owner or body may be the one changed */
static void
views_proc_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	views_valid = false;
}

/*
 * Does the handler carry a SET search_path clause whose last schema is not
 * pg_temp?  A handler runs in the appending session, and a search_path that
 * does not name pg_temp searches that session's temporary schema first for
 * tables: an appender's temporary table would stand in for the handler's
 * own, and its triggers would run as the handler's owner.
 */
static bool
handler_path_unsafe(Oid handler)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	Datum		config;
	bool		isnull;
	bool		unsafe = false;

	if (!HeapTupleIsValid(tup))
		return false;
	config = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	if (!isnull)
	{
		Datum	   *items;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false, TYPALIGN_INT,
						  &items, NULL, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *item = TextDatumGetCString(items[i]);
			char	   *last;
			char	   *end;

			if (strncmp(item, "search_path=", 12) != 0)
				continue;
			last = strrchr(item + 12, ',');
			last = last ? last + 1 : item + 12;
			while (*last == ' ' || *last == '"')
				last++;
			end = last + strlen(last);
			while (end > last && (end[-1] == ' ' || end[-1] == '"'))
				end--;
			if (end - last != 7 || strncmp(last, "pg_temp", 7) != 0)
				unsafe = true;
		}
	}
	ReleaseSysCache(tup);
	return unsafe;
}

/* (Re)load the registry.  Caller is connected to SPI. */
static void
load_views(void)
{
	MemoryContext oldcxt;
	int			rc;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(views_inval_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, views_proc_callback, (Datum) 0);
		callback_registered = true;
	}
	/*
	 * The old list may still be in use further up the stack (a handler that
	 * appends fires this trigger recursively), so it is not freed here but
	 * handed to the transaction, which outlives any such use.
	 */
	if (views_cxt != NULL)
		MemoryContextSetParent(views_cxt, TopTransactionContext);
	views_cxt = AllocSetContextCreate(TopMemoryContext, "evlog user views",
									  ALLOCSET_SMALL_SIZES);
	views = NULL;
	nviews = 0;

	/* mark valid first: an invalidation arriving while we read wins */
	views_relid = evlog_relid("derived_views");
	views_valid = true;

	rc = SPI_execute("SELECT v.name, v.handler::pg_catalog.oid, p.proowner, v.target::pg_catalog.oid"
					 " FROM evlog.derived_views v JOIN pg_catalog.pg_proc p"
					 " ON p.oid OPERATOR(pg_catalog.=) v.handler::pg_catalog.oid ORDER BY v.name",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading evlog.derived_views failed: %s", SPI_result_code_string(rc));

	oldcxt = MemoryContextSwitchTo(views_cxt);
	if (SPI_processed > 0)
		views = palloc0(sizeof(EvlogUserView) * SPI_processed);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		EvlogUserView *uv = &views[nviews++];
		bool		isnull;

		uv->name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		uv->handler = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		uv->handler_owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		uv->target = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		uv->unsafe_path = handler_path_unsafe(uv->handler);
		fmgr_info_cxt(uv->handler, &uv->flinfo, views_cxt);
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_freetuptable(SPI_tuptable);
}

/* Registered user views, current as of the last invalidation processed. */
EvlogUserView *
evlog_user_views(int *n)
{
	if (!views_valid)
	{
		PG_TRY();
		{
			load_views();
		}
		PG_CATCH();
		{
			views_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	*n = nviews;
	return views;
}

/* True only when the cache is current and holds no views. */
bool
evlog_user_views_none(void)
{
	return views_valid && nviews == 0;
}

EvlogUserView *
evlog_user_view_lookup(const char *name)
{
	int			n;
	EvlogUserView *all = evlog_user_views(&n);

	for (int i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0)
			return &all[i];
	return NULL;
}

/*
 * The derive of one row of the log, the trigger's body: tuple went into rel
 * (the log, or one of its partitions).  logdesc is the log's descriptor
 * when the caller has the log open, else NULL (it is opened here for a
 * partition's row: user-view handlers are declared with the log's row type;
 * the layouts are the same, only the row type differs).
 */
void
evlog_derive_row(Relation rel, TupleDesc logdesc, HeapTuple tuple)
{
	EvlogEventRow ev;
	EvlogDeriveTarget target;
	Relation	log = NULL;
	EvlogAsUser as;

	/*
	 * Fast path for the common event that feeds nothing: only the kind is
	 * read, no SPI connection, no user switch.  This is what keeps the
	 * cost on unrelated appends small.
	 */
	if (evlog_user_views_none())
	{
		bool		isnull;
		Datum		kind = heap_getattr(tuple, EVLOG_COL_KIND + 1,
										RelationGetDescr(rel), &isnull);

		if (isnull || !evlog_kind_feeds_builtin(DatumGetTextPP(kind)))
			return;
	}
	if (logdesc == NULL)
	{
		if (rel->rd_rel->relispartition)
		{
			log = table_open(evlog_relid("event_log"), AccessShareLock);
			evlog_check_log_layout(log);
			logdesc = RelationGetDescr(log);
		}
		else
			logdesc = RelationGetDescr(rel);
	}
	evlog_event_from_tuple(tuple, logdesc, &ev);

	target.builtin = EVLOG_VIEW_ALL_BUILTIN;
	target.staging = false;
	if (evlog_user_views_none())
	{
		/* built-in rules only: switch to the owner only if one writes */
		target.user = NULL;
		target.nuser = 0;
		evlog_derive_event_lazy(&ev, &target, rel->rd_rel->relowner);
	}
	else
	{
		/* loading the registry needs SPI, and reads it as the owner */
		evlog_as_user_begin(rel->rd_rel->relowner, EVLOG_AS_SPI, &as);
		target.user = evlog_user_views(&target.nuser);
		evlog_derive_event(&ev, &target);
		evlog_as_user_end(&as);
	}
	if (log != NULL)
		table_close(log, AccessShareLock);
}

/*
 * evlog_derive_row() for a row evlog's writer just inserted into rel, read
 * from its slot, without forming a tuple or deforming the row again.  Only
 * while no user view is registered (what evlog_derive_directly asked for):
 * returns false, deriving nothing, if one was registered since (the
 * registry is read again when an invalidation arrives, which a derive's own
 * statements can pick up mid-statement), so that the caller queues the
 * trigger instead and handlers run where they always did, at the end of
 * the statement.
 */
bool
evlog_derive_slot(Relation rel, TupleTableSlot *slot)
{
	EvlogEventRow ev;
	EvlogDeriveTarget target;

	if (!evlog_user_views_none())
		return false;
	slot_getallattrs(slot);
	if (slot->tts_isnull[EVLOG_COL_KIND] ||
		!evlog_kind_feeds_builtin(DatumGetTextPP(slot->tts_values[EVLOG_COL_KIND])))
		return true;
	evlog_event_row_from_values(slot->tts_values, slot->tts_isnull, &ev);
	target.builtin = EVLOG_VIEW_ALL_BUILTIN;
	target.staging = false;
	target.user = NULL;
	target.nuser = 0;
	evlog_derive_event_lazy(&ev, &target, rel->rd_rel->relowner);
	return true;
}

Datum
evlog_derive_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	/* the same checks as contrib/tcn: only as an AFTER ROW INSERT trigger */
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.derive_trigger() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.derive_trigger() must be fired AFTER INSERT FOR EACH ROW")));
	evlog_check_log_layout(trigdata->tg_relation);
	evlog_derive_row(trigdata->tg_relation, NULL, trigdata->tg_trigtuple);
	return PointerGetDatum(NULL);
}

/* Would trigger t fire in this session (TriggerEnabled's test)? */
static bool
trigger_fires(const Trigger *t)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return t->tgenabled == TRIGGER_FIRES_ALWAYS ||
			t->tgenabled == TRIGGER_FIRES_ON_REPLICA;
	return t->tgenabled == TRIGGER_FIRES_ALWAYS ||
		t->tgenabled == TRIGGER_FIRES_ON_ORIGIN;
}

/*
 * May evlog's writer call evlog_derive_row() itself for the rows it inserts
 * into rri, right after each row's index entries, instead of queueing AFTER
 * ROW trigger events as an INSERT does?  The queue costs more than the
 * derive of most events: the event is saved, the row fetched again by its
 * ctid at the end of the statement and the function called through the
 * trigger manager.
 *
 * Only when the call is exactly what the trigger would do: our trigger is
 * the relation's one AFTER ROW INSERT trigger, with no WHEN clause,
 * arguments or transition table, it fires in this session, and no user
 * view is registered (a handler is user code, which might read the log: it
 * runs where it always did, once every row of the statement is in).
 * Otherwise (and when nothing would fire) the writer queues the events.
 */
bool
evlog_derive_directly(ResultRelInfo *rri)
{
	static Oid	derive_fn = InvalidOid;
	TriggerDesc *td = rri->ri_TrigDesc;
	Trigger    *ours = NULL;

	if (td == NULL || !td->trig_insert_after_row || td->trig_insert_new_table ||
		!evlog_user_views_none())
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (!TRIGGER_TYPE_MATCHES(t->tgtype, TRIGGER_TYPE_ROW,
								  TRIGGER_TYPE_AFTER, TRIGGER_TYPE_INSERT))
			continue;
		if (ours != NULL)
			return false;
		ours = t;
	}
	if (ours == NULL || ours->tgqual != NULL || ours->tgnargs != 0 ||
		OidIsValid(ours->tgconstraint) || !trigger_fires(ours))
		return false;
	if (ours->tgfoid != derive_fn)
	{
		FmgrInfo	finfo;

		/* is it this library's trigger function?  Checked once per backend */
		fmgr_info(ours->tgfoid, &finfo);
		if (finfo.fn_addr != evlog_derive_trigger)
			return false;
		derive_fn = ours->tgfoid;
	}
	return true;
}

/* Statement trigger on evlog.derived_views: every backend reloads its cache. */
Datum
evlog_derived_views_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.derived_views_changed() was not called by the trigger manager")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * AFTER INSERT OR UPDATE row trigger on the built-in derived tables (1.2):
 * every seq column named in the trigger's arguments must be NULL or the seq
 * of an event in evlog.event_log, which is what their foreign keys to the
 * log checked until 1.1.  A foreign key to the partitioned log costs a
 * query on the partitioned table per derived row, and makes every ATTACH
 * lock every derived table.  Here the rows the derive rules write for the
 * event being appended (or derived again) name that event and are not
 * looked up (evlog_derived_from_seq); any other row is, as the log's owner.
 * An event, once there, goes only with evlog_prune, which deletes the
 * derived rows naming it under ACCESS EXCLUSIVE on the log.
 */
Datum
evlog_derived_seq_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	static SPIPlanPtr plan = NULL;
	HeapTuple	tuple;
	TupleDesc	desc;
	Trigger    *trigger;
	bool		connected = false;
	Oid			save_user;
	int			save_sec;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.derived_seq_check() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.derived_seq_check() must be fired AFTER INSERT OR UPDATE FOR EACH ROW")));

	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	trigger = trigdata->tg_trigger;
	GetUserIdAndSecContext(&save_user, &save_sec);

	for (int i = 0; i < trigger->tgnargs; i++)
	{
		int			attnum = SPI_fnumber(desc, trigger->tgargs[i]);
		bool		isnull;
		int64		seq;
		Datum		arg[1];
		int			rc;

		if (attnum <= 0 || TupleDescAttr(desc, attnum - 1)->atttypid != INT8OID)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("evlog.derived_seq_check(): \"%s\" is not a bigint column of \"%s\"",
							trigger->tgargs[i], RelationGetRelationName(trigdata->tg_relation))));
		seq = DatumGetInt64(heap_getattr(tuple, attnum, desc, &isnull));
		if (isnull || seq == evlog_derived_from_seq)
			continue;

		if (!connected)
		{
			Relation	log = table_open(evlog_relid("event_log"), AccessShareLock);

			/* as the log's owner, as a foreign key's check would be */
			SetUserIdAndSecContext(log->rd_rel->relowner,
								   save_sec | SECURITY_LOCAL_USERID_CHANGE);
			table_close(log, NoLock);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			connected = true;
		}
		if (plan == NULL)
		{
			Oid			argtypes[1] = {INT8OID};
			SPIPlanPtr	p = SPI_prepare("SELECT 1 FROM evlog.event_log e"
										" WHERE e.seq OPERATOR(pg_catalog.=) $1", 1, argtypes);

			if (p == NULL || SPI_keepplan(p) != 0)
				elog(ERROR, "evlog: preparing the event lookup failed");
			plan = p;
		}
		arg[0] = Int64GetDatum(seq);
		rc = SPI_execute_plan(plan, arg, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "evlog: event lookup failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("insert or update on table \"%s\" names an event that is not in evlog.event_log",
							RelationGetRelationName(trigdata->tg_relation)),
					 errdetail("Column \"%s\" is " INT64_FORMAT ".", trigger->tgargs[i], seq),
					 errhint("Derived rows are written by evlog from the events in the log.")));
		SPI_freetuptable(SPI_tuptable);
	}
	if (connected)
	{
		SPI_finish();
		SetUserIdAndSecContext(save_user, save_sec);
	}
	return PointerGetDatum(NULL);
}
