/* The one lock that guards the shared filesystem. Its holder names itself when it takes
   it (an opaque owner: the process of the calling instance), so the host can tell whether
   an interrupted instance holds it. */
#ifndef BASE_LOCK_H
#define BASE_LOCK_H

#include "base/core.h"

/* can_block: the caller may sleep in an atomic wait; others (a browser's main thread) spin. */
void vfs_lock(const void *owner, bool can_block);
void vfs_unlock(void);
bool vfs_lock_held_by(const void *owner);
uintptr_t vfs_lock_owner_slot(void);  /* the word a host reads to learn the owner */
uint64_t vfs_now(void); /* realtime, read once per hold of the lock; lock held */

#endif
