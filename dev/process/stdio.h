/* stdin from the host's input hook; stdout and stderr buffered per process and handed to
   the host's output hook in chunks, so a program printing many short lines does not make
   a host call per write. */
#ifndef PROCESS_STDIO_H
#define PROCESS_STDIO_H

#include "process/process.h"

#include "base/host_abi.h" /* STDIO_* */

errno_t stdio_write(struct process *p, int stream, uint32_t guest_src, uint32_t len);
void stdio_flush(struct process *p);
errno_t stdio_read(struct process *p, uint32_t guest_dst, uint32_t len, uint32_t *nread);

#endif
