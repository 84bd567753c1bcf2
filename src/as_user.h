/*-------------------------------------------------------------------------
 *
 * as_user.h
 *	  Running statements as another role (the log's owner, a handler's or a
 *	  target's owner): SECURITY_RESTRICTED_OPERATION (unless
 *	  EVLOG_AS_TEMP_TABLES), search_path and table placement pinned in a new
 *	  GUC nest level, optionally connected to SPI.  Every piece of evlog
 *	  that runs SQL on another role's behalf goes through this one bracket,
 *	  so the restrictions cannot be forgotten in one place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_AS_USER_H
#define EVLOG_AS_USER_H

#include "evlog.h"

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
extern void evlog_worker_connect(Oid dboid, const char *appname, bool loops);

#endif							/* EVLOG_AS_USER_H */
