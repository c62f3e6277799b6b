/* The big-reader lock of lock.h. The writer mutex is a futex-style word of shared memory
   (0 free, else its owner's tag << 1, bit 0 set when someone may sleep on it) and is also
   what readers check: a reader stores
   HOLDS_SHARED in its own word and then looks at the mutex; a writer takes the mutex and
   then waits for every other holder to stop reading (both sequentially consistent, so one
   of them always sees the other). Instances that may not block spin instead of sleeping,
   so the lock is only ever held for short, bounded work. */
#include "base/lock.h"
#include "base/file_clock.h"

/* Every reader reads writer_mutex and frozen_by at every call; the rest changes only when a
   writer comes or goes. Lines of their own, away from the words other threads write at
   every call (the allocator's, reclaim's, inode numbers). */
static struct {
    int writer_mutex;
    int readers_waiting;              /* readers asleep (or about to be) on the mutex */
    struct lock_holder *holders;      /* changed only under the exclusive lock */
    uint32_t last_group;              /* the group the last registered holder got */
    /* Written under the writer mutex; vfs_release_held reads it from another instance too,
       and only asks whether it is its own holder, which no other thread can make it become. */
    struct lock_holder *exclusive_owner;
    /* The holder that froze the filesystem (vfs_freeze): it holds the lock exclusive until
       it thaws, and its own lock and unlock calls meanwhile nest inside that hold. Written
       only by the frozen holder while it holds the lock exclusive. */
    struct lock_holder *frozen_by;
    /* Set once the writer waited out every reader, until its unlock: no reader runs then,
       and a reader (or a taker of the allocator's mutex) finds it false, and stable. */
    bool exclusive_held;
} OWN_CACHE_LINES lock_state;

/* lock.h reads these inline. The sole group is read by every directory change and written
   only when a holder comes, goes or joins; the clock only by the exclusive holder: lines of
   their own. */
uint32_t OWN_CACHE_LINES vfs_sole_group;
struct vfs_hold_clock OWN_CACHE_LINES vfs_hold_clock;
/* Atomic: other threads read it in their lock calls. Only its own holder ever finds itself
   there, so relaxed order is enough for "am I the freezer?". */
static struct lock_holder *freezer(void) { return __atomic_load_n(&lock_state.frozen_by, __ATOMIC_RELAXED); }

#define SPIN_READS 4096

/* Every sleep is bounded and its loop looks at the word again, so a wake-up that never
   arrives (an engine's bug, or a word changed by a host without a notify) costs one slice
   instead of hanging every thread for good; a sleeper that is woken pays nothing for it. */
static void sleep_while(int *word, int expected) { platform_wait32(word, expected, PLATFORM_LOCK_SLEEP_NS); }

/* A sequentially consistent store as an exchange: wasm's atomic store becomes a store plus
   a full fence on x86 (mfence, measured ~30 ns a time here), an exchange one locked xchg. */
static void publish(int *word, int value) { (void)__atomic_exchange_n(word, value, __ATOMIC_SEQ_CST); }

/* Spins first, re-reading the word with a doubling pause, so that waiters do not bounce
   its cache line; true if done(word, arg) came true. */
static bool spin_until(bool (*done)(int *, uint32_t), int *word, uint32_t arg) {
    for (uint32_t reads = 0, pause = 1; reads < SPIN_READS; reads += pause, pause = pause < 64 ? pause * 2 : 64) {
        for (volatile uint32_t i = 0; i < pause; i++) {}
        if (done(word, arg)) return true;
    }
    return false;
}

/* A holder's tag in the mutex words it owns: the owner is known exactly, so the locks of a
   process whose thread died anywhere (a terminated Worker) can be released without
   releasing another's (the robust mutexes of pthreads). Anonymous holds (host calls with no
   process) have a tag no process has. */
#define TAG_ANONYMOUS 0x3FFFFFFFu
static uint32_t tag_of(const struct lock_holder *holder) { return holder ? holder->tag : TAG_ANONYMOUS; }
static uint32_t owner_of(const int *word) { return (uint32_t)__atomic_load_n(word, __ATOMIC_SEQ_CST) >> 1; }

/* Takes the free mutex word as the owner tagged tag. */
static bool take_free(int *word, uint32_t tag) {
    int expected = 0;
    return __atomic_load_n(word, __ATOMIC_RELAXED) == 0 &&
           __atomic_compare_exchange_n(word, &expected, (int)(tag << 1), false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_RELAXED);
}

static bool is_free(int *word, uint32_t unused) {
    (void)unused;
    return __atomic_load_n(word, __ATOMIC_SEQ_CST) == 0;
}
static bool not_reading(int *word, uint32_t unused) {
    (void)unused;
    return __atomic_load_n(word, __ATOMIC_SEQ_CST) != HOLDS_SHARED;
}

/* A plain store, kept in program order: the host's epoch callback (the holder's own
   thread) reads the word, and writers load it atomically but care only whether it says
   HOLDS_SHARED, which is only ever set and cleared by exchanges (publish). */
static void set_state(struct lock_holder *holder, int state) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    *(volatile int *)&holder->state = state;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void holder_mark_busy(struct lock_holder *holder, bool busy) {
    set_state(holder, busy ? BUSY_UNLOCKED : HOLDS_NOTHING);
}

/* Spins, then sleeps with bit 0 set: the unlock wakes one sleeper, never every waiter. */
static void mutex_lock(int *word, uint32_t tag, bool can_block) {
    if (take_free(word, tag) || spin_until(take_free, word, tag)) return;
    for (;;) {
        int seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
        if (seen == 0) {
            /* Taken with bit 0 set: other sleepers may remain, the unlock must wake one. */
            int expected = 0;
            if (__atomic_compare_exchange_n(word, &expected, (int)(tag << 1 | 1u), false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED))
                return;
            continue;
        }
        if (!(seen & 1) && !__atomic_compare_exchange_n(word, &seen, seen | 1, false, __ATOMIC_SEQ_CST,
                                                        __ATOMIC_RELAXED))
            continue;
        if (can_block) sleep_while(word, seen | 1);
    }
}

/* true if someone may sleep on the word */
static bool mutex_unlock(int *word) { return __atomic_exchange_n(word, 0, __ATOMIC_SEQ_CST) & 1; }

/* Named in the holder before it is taken: vfs_release_held releases it only if the word
   says this holder owns it, so a process stopped anywhere in between leaks nothing. */
void holder_lock_mutex(struct lock_holder *holder, int kind, int *word) {
    holder->mutexes[kind] = word;
    mutex_lock(word, holder->tag, holder->can_block);
}

void holder_unlock_mutex(struct lock_holder *holder, int kind) {
    int *word = holder->mutexes[kind];
    holder->mutexes[kind] = NULL;
    if (mutex_unlock(word)) platform_notify(word, 1);
}

/* State HOLDS_EXCLUSIVE before the mutex is taken: a host may interrupt an instance at any
   function entry or loop, and never between taking the lock and naming it. */
void vfs_lock(struct lock_holder *holder, bool can_block) {
    if (holder && freezer() == holder) return; /* nested in its freeze */
    if (holder) set_state(holder, HOLDS_EXCLUSIVE);
    mutex_lock(&lock_state.writer_mutex, tag_of(holder), can_block);
    for (struct lock_holder *h = lock_state.holders; h; h = h->next) {
        if (h == holder || not_reading(&h->state, 0) || spin_until(not_reading, &h->state, 0)) continue;
        while (!not_reading(&h->state, 0))
            if (can_block) sleep_while(&h->state, HOLDS_SHARED);
    }
    lock_state.exclusive_owner = holder;
    lock_state.exclusive_held = true;
    vfs_hold_clock.read = false;
}

bool vfs_held_exclusive(void) { return lock_state.exclusive_held; }

uint64_t vfs_read_clock(void) {
    vfs_hold_clock.at = file_time_now();
    vfs_hold_clock.read = true;
    return vfs_hold_clock.at;
}

void vfs_unlock(void) {
    if (freezer()) return; /* only the frozen holder can hold it now: its freeze goes on */
    struct lock_holder *holder = lock_state.exclusive_owner;
    lock_state.exclusive_owner = NULL;
    lock_state.exclusive_held = false;
    bool sleepers = mutex_unlock(&lock_state.writer_mutex);
    /* A notify is a call into the host: only when someone sleeps. Waiting readers all may
       go on together; otherwise one sleeping writer is enough. */
    if (__atomic_load_n(&lock_state.readers_waiting, __ATOMIC_SEQ_CST)) platform_notify(&lock_state.writer_mutex, UINT32_MAX);
    else if (sleepers) platform_notify(&lock_state.writer_mutex, 1);
    if (holder) set_state(holder, HOLDS_NOTHING);
}

void vfs_wait_for_readers(struct lock_holder *holder, bool can_block) {
    vfs_lock(holder, can_block);
    vfs_unlock();
}

void vfs_lock_shared(struct lock_holder *holder) {
    if (freezer() == holder) return; /* it holds the lock exclusive */
    for (;;) {
        publish(&holder->state, HOLDS_SHARED);
        if (is_free(&lock_state.writer_mutex, 0)) return;
        /* Not reading, but still busy: a host must not interrupt the wait below (that
           would leave readers_waiting raised for good; fuzz regression
           interrupted_reader_leaves_readers_waiting). */
        publish(&holder->state, WAITS_TO_READ);
        platform_notify(&holder->state, 1); /* the writer may be waiting for this word */
        if (spin_until(is_free, &lock_state.writer_mutex, 0)) continue;
        __atomic_add_fetch(&lock_state.readers_waiting, 1, __ATOMIC_SEQ_CST);
        int seen;
        while ((seen = __atomic_load_n(&lock_state.writer_mutex, __ATOMIC_SEQ_CST)) != 0)
            if (holder->can_block) sleep_while(&lock_state.writer_mutex, seen);
        __atomic_sub_fetch(&lock_state.readers_waiting, 1, __ATOMIC_SEQ_CST);
    }
}

void vfs_unlock_shared(struct lock_holder *holder) {
    if (freezer() == holder) return;
    publish(&holder->state, HOLDS_NOTHING);
    if (!is_free(&lock_state.writer_mutex, 0)) platform_notify(&holder->state, 1);
}

/* Exclusive held: the group every registered holder is in, 0 if they are in several. */
static void recount_groups(void) {
    struct lock_holder *first = lock_state.holders;
    uint32_t sole = first ? first->group : 0;
    for (struct lock_holder *h = first; h; h = h->next)
        if (h->group != sole) sole = 0;
    __atomic_store_n(&vfs_sole_group, sole, __ATOMIC_RELAXED);
}

void vfs_register_holder(struct lock_holder *holder) {
    if (!++lock_state.last_group) ++lock_state.last_group; /* 0 names no group */
    holder->group = lock_state.last_group;
    holder->next = lock_state.holders;
    lock_state.holders = holder;
    recount_groups();
}

void vfs_join_group(struct lock_holder *holder, uint32_t group) {
    holder->group = group;
    recount_groups();
}

struct lock_holder *vfs_holders(void) { return lock_state.holders; }

void vfs_unregister_holder(struct lock_holder *holder) {
    for (struct lock_holder **link = &lock_state.holders; *link; link = &(*link)->next) {
        if (*link == holder) {
            *link = holder->next;
            recount_groups();
            return;
        }
    }
}

bool vfs_release_held(struct lock_holder *holder) {
    /* A freeze ends with it: the exclusive hold below is then released as any other. */
    if (__atomic_load_n(&lock_state.frozen_by, __ATOMIC_SEQ_CST) == holder) __atomic_store_n(&lock_state.frozen_by, NULL, __ATOMIC_SEQ_CST);
    for (int kind = MUTEX_KINDS - 1; kind >= 0; kind--) {
        int *word = holder->mutexes[kind];
        if (word && owner_of(word) == holder->tag) holder_unlock_mutex(holder, kind);
        holder->mutexes[kind] = NULL;
    }
    if (owner_of(&lock_state.writer_mutex) == holder->tag) {
        __atomic_store_n(&lock_state.exclusive_owner, holder, __ATOMIC_SEQ_CST); /* it may have died before naming itself */
        vfs_unlock();
        return true;
    }
    bool held = __atomic_load_n(&holder->state, __ATOMIC_SEQ_CST) == HOLDS_SHARED;
    if (held) vfs_unlock_shared(holder);
    set_state(holder, HOLDS_NOTHING);
    return held;
}

errno_t vfs_freeze(struct lock_holder *holder) {
    if (!holder) return E_BADF;
    if (freezer() == holder) return E_BUSY;
    vfs_lock(holder, holder->can_block);
    __atomic_store_n(&lock_state.frozen_by, holder, __ATOMIC_SEQ_CST);
    return E_SUCCESS;
}

errno_t vfs_thaw(struct lock_holder *holder) {
    if (!holder || __atomic_load_n(&lock_state.frozen_by, __ATOMIC_SEQ_CST) != holder) return E_INVAL;
    __atomic_store_n(&lock_state.frozen_by, NULL, __ATOMIC_SEQ_CST);
    __atomic_store_n(&lock_state.exclusive_owner, holder, __ATOMIC_SEQ_CST);
    vfs_unlock();
    return E_SUCCESS;
}
