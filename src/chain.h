/*-------------------------------------------------------------------------
 *
 * chain.h
 *	  Tamper evidence: the SHA-256 hash chain over the log, sealing and
 *	  verifying it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_CHAIN_H
#define EVLOG_CHAIN_H

#include "evlog.h"

/*
 * evlog_seal_upto() seals up to max_events
 * (<= 0: all) events up to evlog_safe_seq() and returns how many; call it
 * inside a transaction and commit soon: it holds the sealer's lock until
 * the transaction ends.
 */
extern int64 evlog_seal_upto(int64 max_events);

#endif							/* EVLOG_CHAIN_H */
