/*-------------------------------------------------------------------------
 *
 * evlog.c
 *	  Module load: the magic block and the evlog.* settings.
 *
 * Everything here works with or without shared_preload_libraries: the
 * settings are defined whenever the library is loaded, which happens at the
 * first call of any evlog C function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "evlog.h"

PG_MODULE_MAGIC;

int			evlog_max_payload_bytes = 1024 * 1024;
int			evlog_max_batch_entries = 100000;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * SUSET: the limit protects the log from oversized rows; an application
	 * role must not be able to lift it for its own session.
	 */
	DefineCustomIntVariable("evlog.max_payload_bytes",
							"Largest payload, in bytes of JSON text, that an append accepts.",
							"Checked on the payload's text before it is parsed; a jsonb payload is measured in its binary form.",
							&evlog_max_payload_bytes,
							1024 * 1024,
							1,
							MaxAllocSize / 2,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	/*
	 * SUSET for the same reason: a batch is held in one backend's memory and
	 * one transaction, and the limit is what keeps that bounded.  The upper
	 * bound keeps the seq array of the largest batch within MaxAllocSize.
	 */
	DefineCustomIntVariable("evlog.max_batch_entries",
							"Most entries one evlog_append_batch call accepts.",
							"A larger batch is refused before anything is written.",
							&evlog_max_batch_entries,
							100000,
							1,
							10000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("evlog");
}
