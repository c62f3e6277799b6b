/* The lock that guards the shared filesystem: a big-reader lock. Operations that only read
   the tree and file data (stat, readlink, readdir, read, pread) hold it shared and run in
   parallel; everything that changes something holds it exclusive.

   Each process has a lock_holder: its reader flag lives in its own memory, so readers
   write no shared word and do not bounce one cache line between cores; a writer sets the
   writer flag and waits until every holder's reader flag is clear. A holder's busy word is
   set before any lock is taken and cleared after it is released: the host reads it to
   defer an interrupt until the process holds nothing (wasi_wasm_busy_slot). */
#ifndef BASE_LOCK_H
#define BASE_LOCK_H

#include "base/core.h"

struct lock_holder {
    int reading;              /* 1 while holding the lock shared; written only by its process */
    uint32_t busy;            /* nonzero from before a lock is taken until it is released */
    bool can_block;           /* may sleep in an atomic wait (else spins: a browser's main thread) */
    struct lock_holder *next; /* every registered holder */
};

/* Exclusive. holder NULL: a host call made before its process exists, or while it ends. */
void vfs_lock(struct lock_holder *holder, bool can_block);
void vfs_unlock(void);
void vfs_lock_shared(struct lock_holder *holder);
void vfs_unlock_shared(struct lock_holder *holder);
/* Exclusive held for these two. */
void vfs_register_holder(struct lock_holder *holder);
void vfs_unregister_holder(struct lock_holder *holder);
/* After the holder's instance trapped or was interrupted: releases what it held; true if
   it held anything (the host should then run fsck). */
bool vfs_release_held(struct lock_holder *holder);
uint64_t vfs_now(void); /* realtime, read once per exclusive hold; exclusive held */

#endif
