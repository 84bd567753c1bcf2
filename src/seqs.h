/*-------------------------------------------------------------------------
 *
 * seqs.h
 *	  Seq allocation and the in-flight set: the horizon below which every
 *	  seq is committed or will never exist (evlog_safe_seq).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_SEQS_H
#define EVLOG_SEQS_H

#include "evlog.h"

extern void evlog_seqs_init(void);
extern int64 evlog_allocate_seqs(Oid log_relid, Oid seq_relid, int n);
extern int64 evlog_safe_seq(void);
extern int	evlog_inflight(int64 **seqs, int **pids);

#endif							/* EVLOG_SEQS_H */
