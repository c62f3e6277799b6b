/* Pipes: a bounded ring in shared memory between the processes holding its two ends. A
   reader waits for data or for the last writer to go; a writer waits for room. Waiting
   happens outside the VFS lock, in memory.atomic.wait32 (or spinning where the host
   cannot block). */
#ifndef PIPE_H
#define PIPE_H

#include "process.h"
#include "vfs.h"

#define PIPE_CAPACITY 65536u

errno_t pipe_read(struct inode *pipe, uint32_t guest_dst, uint32_t len, uint32_t *nread);
errno_t pipe_write(struct inode *pipe, uint32_t guest_src, uint32_t len, uint32_t *written);
void pipe_end_closed(struct inode *pipe, uint8_t fd_kind);   /* lock held */
uint32_t pipe_buffered(const struct inode *pipe);

#endif
