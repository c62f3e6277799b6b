/* Memory that writers under the shared lock take out of the tree, freed once no reader can
   see it: a reader that found a dentry or an inode just before it was unlinked may still be
   reading it. Each process keeps its own list (in its struct process), so that unlinks in
   different threads share no word and take no mutex. The next exclusive hold frees every
   list; a process whose list grows large frees its own after a grace period
   (reclaim_own_now), so that threads that only create and unlink never wait for an
   exclusive hold. */
#ifndef VFS_RECLAIM_H
#define VFS_RECLAIM_H

#include "vfs/vfs.h"

/* Changed only by its process under the lock shared, and under the lock exclusive. A
   dentry that waits is left exactly as it was (a reader may still compare its name or
   follow its node), so the list of them is an array of its own, from the host's reserve. */
struct reclaim_list {
    struct dentry **dentries;
    uint32_t count, cap;
    struct inode *inodes;       /* linked through next_dead, which no reader reads */
    uint64_t bytes;             /* what waits */
    struct reclaim_list *next;  /* every registered list */
};

/* Lock held exclusive. A list that leaves frees what waits in it first; its array goes. */
void reclaim_register(struct reclaim_list *list);
void reclaim_unregister(struct reclaim_list *list);
/* Under the lock shared, by the list's process (holder), with no mutex of the allocator's
   held: room to record this many more dentries (1 or 2); false when not even the host's
   reserve has it (then do it exclusive). */
bool reclaim_reserve(struct reclaim_list *list, struct lock_holder *holder, uint32_t dentries);
/* Under the lock shared, after reclaim_reserve: an unlinked dentry, freed later. */
void reclaim_dentry(struct reclaim_list *list, struct dentry *entry);
/* Under the lock shared, by the one thread that took the node's link count to 0
   (inode_drop_link_shared, or a shared rmdir): a file or a removed directory, freed later
   unless an fd has it by then. dead_pending, set here, is read under the lock exclusive
   only (inode_release_if_unused). */
void reclaim_inode(struct reclaim_list *list, struct inode *node);
/* Whether so much waits in the list that its process should free it (reclaim_own_now at
   the end of a removing call; a create takes the exclusive path meanwhile). */
bool reclaim_pressing(const struct reclaim_list *list);
/* Holding nothing, by the list's process: waits for every reader that may still see what
   waits in the list (vfs_wait_for_readers), then frees it under the lock shared and the
   allocator's mutex. A file an fd still holds is left to its last close, which is
   exclusive (fdtable.c). */
void reclaim_own_now(struct reclaim_list *list, struct lock_holder *holder, bool can_block);
/* Lock held exclusive: frees what waits in every list. */
void reclaim_now(void);

#endif
