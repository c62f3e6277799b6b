/* The consistency checker: walks the directory tree and every process's fd table, and
   checks link counts, open counts, parent pointers, the directory indexes, file chunks,
   the handle table and the allocator against each other. */
#ifndef PROCESS_FSCK_H
#define PROCESS_FSCK_H

#include "base/core.h"

uint32_t fsck_run(void); /* the number of problems found (0 = healthy); lock held */

#endif
