/* The one lock that guards the shared filesystem. */
#ifndef LOCK_H
#define LOCK_H

#include <stdbool.h>
#include <stdint.h>

void vfs_lock(void);
void vfs_unlock(void);
uint64_t vfs_now(void); /* realtime, read once per hold of the lock; lock held */

struct process;
bool vfs_lock_held_by(const struct process *p);

#endif
