/* What every host export shares: the lock taken in the calling instance's name, the check
   that core memory a host passes lies in one of its buffers, and paths a host passes. */
#ifndef HOST_HOST_CALL_H
#define HOST_HOST_CALL_H

#include "process/process.h"
#include "vfs/path.h"

/* Exclusive in no process's name (before attach, at detach). */
void lock_anonymous(bool can_block);
/* Exclusive in the calling instance's process's name (if any). */
void host_lock(void);
/* The owner of a handle the calling instance makes (base/handles.h): its process's number,
   so that the process's end releases it; 0 before attach. */
uint32_t host_owner(void);
/* Whether [ptr, ptr+len) lies in a buffer wasi_wasm_alloc handed out: the only core memory
   a host may pass. Lock held. */
bool in_host_buffer(uintptr_t ptr, uint32_t len);
/* The directory fd of the calling process that a host's path is relative to (EBADF: no
   process, or not a directory fd). */
errno_t host_dir(uint32_t fd, struct inode **base);
/* Walks the host's path (in one of its buffers) from base, as a program's path walks:
   ENAMETOOLONG over the limits, EFAULT outside the host's buffers, EINVAL / EILSEQ for NUL
   or bad UTF-8, EPERM out of base. Lock held. */
errno_t host_walk(struct path_walk *w, struct inode *base, uintptr_t path, uint32_t len, uint32_t follow);
/* host_dir, then host_walk: the usual start of a filesystem export. Lock held. */
errno_t host_walk_at(struct path_walk *w, uint32_t fd, uintptr_t path, uint32_t len, uint32_t follow);

#endif
