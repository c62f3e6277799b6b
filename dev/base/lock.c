/* The big-reader lock of lock.h. Writers exclude each other with a futex-style mutex on a
   word of shared memory (0 free, 1 held, 2 held with sleepers); instances that may not block
   spin instead of sleeping, so the lock is only ever held for short, bounded work. */
#include "base/lock.h"
#include "base/hooks.h"

static int writer_mutex;
static int writer_active;                /* 1 while a writer holds, or waits for readers */
static struct lock_holder *holders;      /* changed only under the exclusive lock */
static struct lock_holder *exclusive_owner;
static bool now_read;                    /* the clock was read during this exclusive hold */
static uint64_t now_cached;

#define SPIN_READS 4096

/* Spins first, reading the word until it looks like it may be taken, with a doubling
   pause, so that waiters do not bounce its cache line; true if done() came true. */
static bool spin_until(bool (*done)(int *), int *word) {
    for (uint32_t reads = 0, pause = 1; reads < SPIN_READS; reads += pause, pause = pause < 64 ? pause * 2 : 64) {
        for (volatile uint32_t i = 0; i < pause; i++) {}
        if (done(word)) return true;
    }
    return false;
}

static bool mutex_try(int *word) {
    int expected = 0;
    return __atomic_load_n(word, __ATOMIC_RELAXED) == 0 &&
           __atomic_compare_exchange_n(word, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void mutex_lock(int *word, bool can_block) {
    if (mutex_try(word) || spin_until(mutex_try, word)) return;
    /* State 2: the holder's unlock wakes one sleeper, never a herd. */
    while (__atomic_exchange_n(word, 2, __ATOMIC_ACQUIRE) != 0)
        if (can_block) platform_wait32(word, 2, -1);
}

static void mutex_unlock(int *word) {
    if (__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) == 2) platform_notify(word, 1);
}

static bool is_zero(int *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST) == 0; }

static void wait_until_zero(int *word, bool can_block) {
    if (is_zero(word) || spin_until(is_zero, word)) return;
    while (!is_zero(word))
        if (can_block) platform_wait32(word, 1, -1);
}

/* The holder is busy before it takes the lock: a host may interrupt an instance at any
   function entry or loop, and it must never do so between taking a lock and naming it. */
void vfs_lock(struct lock_holder *holder, bool can_block) {
    if (holder) __atomic_store_n(&holder->busy, 2, __ATOMIC_SEQ_CST);
    mutex_lock(&writer_mutex, can_block);
    __atomic_store_n(&writer_active, 1, __ATOMIC_SEQ_CST);
    for (struct lock_holder *h = holders; h; h = h->next)
        if (h != holder) wait_until_zero(&h->reading, can_block);
    exclusive_owner = holder;
    now_read = false;
}

/* One timestamp per locked operation, as a kernel uses one per system call: the times an
   operation sets agree, and it reads the clock once instead of once per inode it touches. */
uint64_t vfs_now(void) {
    if (!now_read) {
        now_cached = realtime_now();
        now_read = true;
    }
    return now_cached;
}

void vfs_unlock(void) {
    struct lock_holder *holder = exclusive_owner;
    exclusive_owner = NULL;
    __atomic_store_n(&writer_active, 0, __ATOMIC_SEQ_CST);
    platform_notify(&writer_active, UINT32_MAX); /* readers: they all may go on together */
    mutex_unlock(&writer_mutex);
    if (holder) __atomic_store_n(&holder->busy, 0, __ATOMIC_SEQ_CST);
}

/* Store the flag, then look at the writer (both sequentially consistent): a writer that
   set its flag before our store sees us and waits; one that sets it after finds us. */
void vfs_lock_shared(struct lock_holder *holder) {
    __atomic_store_n(&holder->busy, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        __atomic_store_n(&holder->reading, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&writer_active, __ATOMIC_SEQ_CST) == 0) return;
        __atomic_store_n(&holder->reading, 0, __ATOMIC_SEQ_CST);
        platform_notify(&holder->reading, 1); /* the writer may be waiting for this flag */
        wait_until_zero(&writer_active, holder->can_block);
    }
}

void vfs_unlock_shared(struct lock_holder *holder) {
    __atomic_store_n(&holder->reading, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&writer_active, __ATOMIC_SEQ_CST)) platform_notify(&holder->reading, 1);
    __atomic_store_n(&holder->busy, 0, __ATOMIC_SEQ_CST);
}

void vfs_register_holder(struct lock_holder *holder) {
    holder->next = holders;
    holders = holder;
}

void vfs_unregister_holder(struct lock_holder *holder) {
    for (struct lock_holder **link = &holders; *link; link = &(*link)->next) {
        if (*link == holder) {
            *link = holder->next;
            return;
        }
    }
}

bool vfs_release_held(struct lock_holder *holder) {
    bool held = false;
    if (__atomic_load_n(&holder->reading, __ATOMIC_SEQ_CST)) {
        vfs_unlock_shared(holder);
        held = true;
    }
    if (__atomic_load_n(&exclusive_owner, __ATOMIC_SEQ_CST) == holder) {
        vfs_unlock();
        held = true;
    }
    __atomic_store_n(&holder->busy, 0, __ATOMIC_SEQ_CST);
    return held;
}
