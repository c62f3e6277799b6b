#ifndef PROCESS_PREOPEN_H
#define PROCESS_PREOPEN_H

#include "process/process.h"

/* Opens VFS directory path (absolute; missing directories on it are created, as by
   mkdir -p) as the process's next fd, a preopen named name. On failure nothing in the
   filesystem has changed. Lock held. */
errno_t process_preopen(struct process *p, const char *path, uint32_t len, const char *name,
                        uint32_t name_len, uint32_t *fd_out);

#endif
