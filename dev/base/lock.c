/* A futex-style mutex on a word of shared memory: 0 free, 1 held, 2 held with waiters.
   Instances that may block sleep in an atomic wait; the others (a browser's main thread)
   spin, so the lock is only ever held for short, bounded work. */
#include "base/lock.h"
#include "base/hooks.h"

static int lock_word;
static const void *lock_owner; /* who holds it: the host can free a lock an interrupted instance left */
static bool now_read;          /* the clock was read during this hold of the lock */
static uint64_t now_cached;

static int exchange(int value) {
    return __atomic_exchange_n(&lock_word, value, __ATOMIC_ACQUIRE);
}

static bool try_take(void) {
    int expected = 0;
    return __atomic_compare_exchange_n(&lock_word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* Spins first, reading the word and trying to take it only once it looks free, so the
   waiters do not bounce its cache line between cores; the pause between reads doubles.
   Only then does it sleep (state 2: the holder's unlock wakes one sleeper, never a herd). */
#define SPIN_READS 4096

static void lock_contended(bool can_block) {
    for (uint32_t reads = 0, pause = 1; reads < SPIN_READS; reads += pause, pause = pause < 64 ? pause * 2 : 64) {
        for (volatile uint32_t i = 0; i < pause; i++) {}
        if (__atomic_load_n(&lock_word, __ATOMIC_RELAXED) == 0 && try_take()) return;
    }
    while (exchange(2) != 0) {
        if (can_block) platform_wait32(&lock_word, 2, -1);
    }
}

/* The owner is known before the lock is taken: a host may interrupt an instance at any
   function entry, and between taking the lock and naming its owner there must be none,
   or the host could not tell that this instance holds it. */
void vfs_lock(const void *owner, bool can_block) {
    if (!try_take()) lock_contended(can_block);
    lock_owner = owner;
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
    lock_owner = NULL;
    if (__atomic_exchange_n(&lock_word, 0, __ATOMIC_RELEASE) == 2) platform_notify(&lock_word, 1);
}

uintptr_t vfs_lock_owner_slot(void) { return core_addr(&lock_owner); }

bool vfs_lock_held_by(const void *owner) {
    return owner && __atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE) == owner;
}
