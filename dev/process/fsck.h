/* The consistency checker: walks the directory tree and every process's fd table, and
   checks link counts, open counts, parent pointers, the directory indexes, file chunks,
   the handle table and the allocator against each other. */
#ifndef PROCESS_FSCK_H
#define PROCESS_FSCK_H

#include "base/core.h"

uint32_t fsck_run(void); /* the number of problems found (0 = healthy); lock held */
/* Lock held exclusive, after a process that held the lock was ended where it stood
   (wasi_wasm_reap): sets every open count to the fds and handles that refer to the node.
   A path_open counts its fd before the fd exists, and a truncation marks the count while it
   runs, so such a process can leave counts too high (a file never freed, an open count
   that fsck reports) but never too low, which would free a file an fd still reads. */
void fsck_recount_opens(void);

#endif
