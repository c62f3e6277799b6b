/* The lock that guards the shared filesystem: a big-reader lock. Operations that only read
   the tree and file data (stat, readlink, readdir, read, pread) hold it shared and run in
   parallel; everything that changes something holds it exclusive.

   Each process has a lock_holder whose state word says what it holds: readers write only
   their own word, so they do not bounce one cache line between cores; a writer takes the
   writer mutex and waits until no holder is reading. The host reads a process's state word
   (wasi_wasm_busy_slot) to defer an interrupt until the process holds nothing: it is set
   before a lock is taken and cleared after it is released. */
#ifndef BASE_LOCK_H
#define BASE_LOCK_H

#include "base/core.h"
#include "base/alloc_cache.h"

enum {
    HOLDS_NOTHING = 0, HOLDS_SHARED = 1,
    HOLDS_EXCLUSIVE = 2, /* or is taking it */
    WAITS_TO_READ = 3,   /* a reader waiting for a writer to finish */
    BUSY_UNLOCKED = 4,   /* holds no lock, but is changing what a host reads (stdio.c) */
};

/* The mutexes a holder of the shared lock may take, in this order (the allocator's is a
   leaf): one or two directories' mutexes (dir_data.mutex; two only in address order,
   dir_lock_pair), or a file's data mutex (writers of one file, inode.data_mutex), then the
   allocator's (mem_lock_shared). Exclusive holders take none: they already exclude every
   other. */
enum { MUTEX_OBJECT, MUTEX_SECOND_OBJECT, MUTEX_ALLOCATOR, MUTEX_KINDS };

struct lock_holder {
    int state;                /* HOLDS_*: written only by its own process */
    bool can_block;           /* may sleep in an atomic wait (else spins: a browser's main thread) */
    int *mutexes[MUTEX_KINDS]; /* held or being taken, for vfs_release_held after a trap */
    uint32_t tag;             /* nonzero, unique among live holders: in the mutex words it owns */
    struct lock_holder *next; /* every registered holder */
    struct alloc_cache cache; /* small free blocks for its shared-lock writes (alloc.h) */
    uint64_t ino_next, ino_end; /* inode numbers left for its shared-lock creates (vfs/inode.c) */
    /* Holders of one group never run at the same time (their host runs them on one thread):
       a fresh one at registration, or one the host joins it to (vfs_join_group). */
    uint32_t group;
};

/* Exclusive. holder NULL: a host call made before its process exists, or while it ends. */
void vfs_lock(struct lock_holder *holder, bool can_block);
void vfs_unlock(void);
void vfs_lock_shared(struct lock_holder *holder);
void vfs_unlock_shared(struct lock_holder *holder);
/* Holding nothing: returns once every holder that held the lock shared when it was called
   has let it go (a grace period, as RCU's synchronize: an exclusive hold that does nothing
   but wait). What this holder took out of the tree before the call is then out of every
   reader's reach, and can be freed under the lock shared. */
void vfs_wait_for_readers(struct lock_holder *holder, bool can_block);
/* A futex mutex word (0 free, else the owner's tag << 1 | 1 if someone may sleep on it),
   taken while holder holds the lock shared; recorded in the holder under kind (MUTEX_*)
   before it is taken, so a process stopped anywhere cannot leak it. */
void holder_lock_mutex(struct lock_holder *holder, int kind, int *word);
void holder_unlock_mutex(struct lock_holder *holder, int kind);
/* Marks work that takes no lock but that a host must not interrupt or read halfway
   (BUSY_UNLOCKED; nothing held): the host's busy check sees it as the lock's states. */
void holder_mark_busy(struct lock_holder *holder, bool busy);
/* Exclusive held for these three. Unregister a holder only once its cache is empty
   (mem_drain_caches). */
void vfs_register_holder(struct lock_holder *holder);
void vfs_unregister_holder(struct lock_holder *holder);
struct lock_holder *vfs_holders(void); /* every registered holder, through next */
/* Holding nothing: whether every registered holder is in holder's group. Then no other
   thread can take the lock meanwhile, and an exclusive hold costs less than the shared
   path's mutexes and second lookups. Read without the lock, so a holder may register just
   after: it waits for the exclusive hold, and either answer is correct (it only picks the
   faster), as is a host's wrong promise of a group (its threads then take turns). One
   word, not a walk of the holders: another thread may free one meanwhile. Inline, as
   vfs_now: a call from wasm costs more than the load (bench/ops.py --instructions). */
extern uint32_t vfs_sole_group; /* every holder's group if they share one, else 0 */
static inline bool vfs_alone(const struct lock_holder *holder) {
    return __atomic_load_n(&vfs_sole_group, __ATOMIC_RELAXED) == holder->group;
}
/* Exclusive held: holder joins group (nonzero, a number a holder got at registration). */
void vfs_join_group(struct lock_holder *holder, uint32_t group);
/* Whether the lock is held exclusive (by the caller, if it holds any part of it). */
bool vfs_held_exclusive(void);
/* After the holder's instance trapped or was interrupted: releases what it held (its
   mutexes, then the lock); true if it held anything (the host should then run fsck). */
bool vfs_release_held(struct lock_holder *holder);
/* A freeze: the holder takes the lock exclusive and keeps it until vfs_thaw, so that a host
   sees the whole filesystem at one moment across many calls (a snapshot). Meanwhile the
   holder's own lock calls (either mode) nest inside the hold and every other holder waits.
   EBUSY if the holder has frozen already, EBADF for no holder; thaw EINVAL if the holder
   has not frozen. vfs_release_held thaws too. */
errno_t vfs_freeze(struct lock_holder *holder);
errno_t vfs_thaw(struct lock_holder *holder);
/* Realtime, read once per exclusive hold (exclusive held): one timestamp per locked
   operation, as a kernel uses one per system call, so the times an operation sets agree
   and it reads the clock once instead of once per inode it touches. */
extern struct vfs_hold_clock {
    bool read; /* during this exclusive hold */
    uint64_t at;
} vfs_hold_clock;
uint64_t vfs_read_clock(void); /* the hold's first: reads the clock, out of line (smaller) */
static inline uint64_t vfs_now(void) { return vfs_hold_clock.read ? vfs_hold_clock.at : vfs_read_clock(); }

#endif
