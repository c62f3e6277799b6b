/* The one lock that guards the shared filesystem. */
#ifndef LOCK_H
#define LOCK_H

void vfs_lock(void);
void vfs_unlock(void);

#endif
