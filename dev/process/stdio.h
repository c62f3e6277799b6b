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
/* What fdstat and filestat say a stdio fd is: a character device where the host's stream is
   a terminal, as wasmtime says (wasi-libc's isatty() then answers 1, and C programs flush
   their output per line), else unknown, as wasmtime says of a pipe or file. */
uint8_t stdio_filetype(const struct process *p, enum fd_kind kind);

#endif
