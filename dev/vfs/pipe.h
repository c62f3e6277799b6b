/* Pipes: a bounded ring in shared memory between the processes holding its two ends. A
   reader waits for data or for the last writer to go; a writer waits for room. Waiting
   happens outside the VFS lock, in an atomic wait (or spinning where the caller cannot
   block). The caller's lock owner and whether it may block come in as a waiter. */
#ifndef VFS_PIPE_H
#define VFS_PIPE_H

#include "base/lock.h"
#include "vfs/vfs.h"

#define PIPE_CAPACITY 65536u
/* A pipe's head and tail (vfs.h) count the bytes ever read and written modulo 2^32, and
   wrap after 4 GiB through one pipe, harmlessly: what is buffered is tail - head, at most
   PIPE_CAPACITY, and the ring index is the count modulo the capacity, which divides 2^32.
   The fuzzers start every pipe 16 bytes below the wrap, so that their pipes cross it. */
_Static_assert((PIPE_CAPACITY & (PIPE_CAPACITY - 1)) == 0, "the ring index must survive the wrap");
#ifndef PIPE_FIRST_POSITION
#define PIPE_FIRST_POSITION 0u
#endif

struct waiter {
    struct lock_holder *holder; /* in whose name the lock is taken */
    bool can_block;
    bool nonblocking;    /* EAGAIN instead of waiting (FDFLAG_NONBLOCK) */
};

errno_t pipe_read(struct inode *pipe, const struct waiter *w, uint32_t guest_dst, uint32_t len, uint32_t *nread);
errno_t pipe_write(struct inode *pipe, const struct waiter *w, uint32_t guest_src, uint32_t len, uint32_t *written);
/* Lock held for the rest. */
struct inode *pipe_create(void);                 /* NULL without memory */
void pipe_end_opened(struct inode *pipe, bool write_end);
void pipe_end_closed(struct inode *pipe, bool write_end);

#endif
