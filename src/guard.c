/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  The append-only guards: the row triggers on the log, the chain and
 *	  evlog.event_ids, the DDL guard on evlog's tables, and their one
 *	  bypass, which only evlog_prune uses.
 *
 * The bypass.  evlog.chain and evlog.event_ids refuse DELETE for every role
 * through ENABLE ALWAYS triggers (evlog_refuse_chain_change below).  They let a
 * DELETE through only while evlog_prune_active is set, a C variable that
 * only evlog_prune sets, around its own statements, and that no SQL can
 * reach, and only for the two DELETEs of phase 1 (no code of another
 * role runs meanwhile): no role, the superuser included, can use the bypass
 * for anything else (a superuser can still disable the triggers, as in 1.0: that is
 * what the chain makes evident).
 *
 * The DDL guard (1.2).  Row triggers cannot stop DDL: DETACH and DROP of a
 * partition remove events before they are sealed, and the chain then links
 * around the hole as if they had never been; a column added, dropped or
 * renamed changes the layout evlog reads by position.  The event trigger
 * evlog_ddl_guard (ddl_command_start on ALTER TABLE and DROP TABLE) refuses
 * those commands on evlog's tables for every role, the superuser included,
 * except around evlog_prune's own DETACH and DROP (prune_dropping, set
 * only there) and in the extension's scripts.  Doing it anyway takes a visible act: ALTER EVENT
 * TRIGGER evlog_ddl_guard DISABLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "guard.h"

PG_FUNCTION_INFO_V1(evlog_refuse_change);
PG_FUNCTION_INFO_V1(evlog_refuse_chain_change);
PG_FUNCTION_INFO_V1(evlog_ddl_guard);

bool		evlog_prune_active = false;
bool		evlog_prune_dropping = false;

/* ------------------------------------------------------------------------
 * The append-only triggers
 * ------------------------------------------------------------------------
 */

static const char *
trigger_op(TriggerData *td)
{
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return "UPDATE";
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return "DELETE";
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		return "TRUNCATE";
	return "INSERT";
}

static void
check_trigger_call(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s was not called by the trigger manager", name)));
}

/* evlog.refuse_change(): UPDATE, DELETE and TRUNCATE on the log. */
Datum
evlog_refuse_change(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	check_trigger_call(fcinfo, "evlog.refuse_change()");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("evlog.event_log is append-only"),
			 errdetail("%s is refused for every role, the owner included.", trigger_op(td)),
			 errhint("Append corrections as new events; rows leave the log only through a logged retention function.")));
	PG_RETURN_NULL();
}

/*
 * evlog.refuse_chain_change(): UPDATE, DELETE and TRUNCATE on evlog.chain,
 * evlog.chain_anchor and evlog.event_ids; evlog_prune's row DELETEs on
 * evlog.chain and evlog.event_ids pass.
 */
Datum
evlog_refuse_chain_change(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *table;

	check_trigger_call(fcinfo, "evlog.refuse_chain_change()");
	table = RelationGetRelationName(td->tg_relation);
	if (evlog_prune_active &&
		TRIGGER_FIRED_BY_DELETE(td->tg_event) &&
		TRIGGER_FIRED_FOR_ROW(td->tg_event) &&
		(strcmp(table, "chain") == 0 || strcmp(table, "event_ids") == 0))
		return PointerGetDatum(td->tg_trigtuple);

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s.%s is append-only",
					get_namespace_name(RelationGetNamespace(td->tg_relation)), table),
			 errdetail("%s is refused for every role, the owner included.", trigger_op(td)),
			 strcmp(table, "event_ids") == 0 ?
			 errhint("Entries are written only by evlog's append path and removed only by evlog_prune().") :
			 errhint("Links are written only by evlog_seal(); anchors only by retention.")));
	PG_RETURN_NULL();
}

/* A relation of evlog's own schema (the log, its partitions, derived tables). */
static bool
is_evlog_relation(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Oid			nsp = get_namespace_oid("evlog", true);

	return OidIsValid(relid) && OidIsValid(nsp) && get_rel_namespace(relid) == nsp;
}

static void
refuse_ddl(RangeVar *rv, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("evlog does not allow %s on \"evlog.%s\"", what, rv->relname),
			 errdetail("Only evlog_prune() removes events; evlog reads its tables by column position."),
			 errhint("To do it anyway, first run ALTER EVENT TRIGGER evlog_ddl_guard DISABLE; as a superuser.")));
}

Datum
evlog_ddl_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *stmt;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog_ddl_guard() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	stmt = trigdata->parsetree;

	/* evlog's own: retention, and the install and update scripts */
	if (evlog_prune_dropping || creating_extension)
		PG_RETURN_VOID();

	if (IsA(stmt, AlterTableStmt))
	{
		AlterTableStmt *at = (AlterTableStmt *) stmt;
		ListCell   *lc;

		if (at->relation == NULL || !is_evlog_relation(at->relation))
			PG_RETURN_VOID();
		foreach(lc, at->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			switch (cmd->subtype)
			{
				case AT_DetachPartition:
				case AT_DetachPartitionFinalize:
					refuse_ddl(at->relation, "DETACH PARTITION");
					break;
				case AT_AddColumn:
				case AT_AddColumnRecurse:
					refuse_ddl(at->relation, "ADD COLUMN");
					break;
				case AT_DropColumn:
				case AT_DropColumnRecurse:
					refuse_ddl(at->relation, "DROP COLUMN");
					break;
				case AT_AlterColumnType:
					refuse_ddl(at->relation, "ALTER COLUMN ... TYPE");
					break;
				default:
					break;		/* triggers, owner, constraints, ATTACH: pg_dump's */
			}
		}
	}
	else if (IsA(stmt, DropStmt))
	{
		DropStmt   *drop = (DropStmt *) stmt;
		ListCell   *lc;

		if (drop->removeType != OBJECT_TABLE)
			PG_RETURN_VOID();
		foreach(lc, drop->objects)
		{
			RangeVar   *rv = makeRangeVarFromNameList(lfirst_node(List, lc));

			if (is_evlog_relation(rv))
				refuse_ddl(rv, "DROP TABLE");
		}
	}
	else if (IsA(stmt, RenameStmt))
	{
		RenameStmt *rn = (RenameStmt *) stmt;

		if (rn->relation != NULL && is_evlog_relation(rn->relation) &&
			(rn->renameType == OBJECT_COLUMN || rn->renameType == OBJECT_TABLE))
			refuse_ddl(rn->relation, "RENAME");
	}
	PG_RETURN_VOID();
}
