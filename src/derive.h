/*-------------------------------------------------------------------------
 *
 * derive.h
 *	  The derived tables: the per-event rules (derive.c, one code path for
 *	  the trigger and the rebuild), and the registry of user views with the
 *	  AFTER INSERT trigger that feeds them (derive_trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_DERIVE_H
#define EVLOG_DERIVE_H

#include "evlog.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

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
extern void evlog_event_row_from_values(const Datum *values, const bool *nulls, EvlogEventRow *ev);
extern int	evlog_event_feeds(const EvlogEventRow *ev);
extern bool evlog_kind_feeds_builtin(const text *kind);
extern void evlog_derive_event(const EvlogEventRow *ev, const EvlogDeriveTarget *target);
extern void evlog_derive_event_lazy(const EvlogEventRow *ev, const EvlogDeriveTarget *target,
									Oid owner);
extern bool evlog_derive_check(const EvlogEvent *event, int entry);
extern int64 evlog_derived_from_seq;
extern const char *evlog_builtin_view_name(int view);
extern int	evlog_builtin_view_from_name(const char *name);
extern const char *evlog_builtin_table(int view, bool staging);
extern void evlog_derive_staging_begin(int builtin);
extern void evlog_derive_staging_end(void);

/* derive_trigger.c — the trigger's body, and when the writer calls it itself */
extern void evlog_derive_row(Relation rel, TupleDesc logdesc, HeapTuple tuple);
extern bool evlog_derive_slot(Relation rel, TupleTableSlot *slot);
extern bool evlog_derive_directly(ResultRelInfo *rri);

/* derive_trigger.c — cached list of user-registered views */
extern EvlogUserView *evlog_user_views(int *n);
extern EvlogUserView *evlog_user_view_lookup(const char *name);
extern bool evlog_user_views_none(void);

#endif							/* EVLOG_DERIVE_H */
