/* Memory that writers under the shared lock take out of the tree, freed at the next
   exclusive hold: a reader that found a dentry or an inode just before it was unlinked may
   still be reading it, and only the exclusive lock waits until no reader is left. */
#ifndef VFS_RECLAIM_H
#define VFS_RECLAIM_H

#include "vfs/vfs.h"

/* Under the lock shared and the allocator's mutex: room to record this many more dentries
   (1 or 2); false when not even the host's reserve has it (then do it exclusive). */
bool reclaim_reserve(uint32_t dentries);
/* Under the lock shared and the allocator's mutex, after reclaim_reserve: an unlinked
   dentry, freed later. */
void reclaim_dentry(struct dentry *entry);
/* Under the lock shared and the allocator's mutex: a file whose last link went; freed
   later unless an fd has it by then. */
void reclaim_inode(struct inode *file);
/* Whether so much waits that shared-lock writers should take the exclusive path instead
   (which reclaims it). */
bool reclaim_pressing(void);
/* Lock held exclusive: frees what waits. */
void reclaim_now(void);

#endif
