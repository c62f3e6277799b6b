/* The one lock that guards the shared filesystem. */
#ifndef LOCK_H
#define LOCK_H

#include <stdbool.h>

void vfs_lock(void);
void vfs_unlock(void);

struct process;
bool vfs_lock_held_by(const struct process *p);

#endif
