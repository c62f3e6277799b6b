/* A futex-style mutex on a word of shared memory: 0 free, 1 held, 2 held with waiters.
   Instances that may block (can_block) sleep in memory.atomic.wait32; the others (a
   browser's main thread) spin, so the lock is only ever held for short, bounded work. */
#include "lock.h"
#include "hooks.h"
#include "process.h"

static int lock_word;
static struct process *lock_owner; /* who holds it: the host can free a lock an interrupted instance left */
static bool now_read;               /* the clock was read during this hold of the lock */
static uint64_t now_cached;

static int exchange(int value) {
    return __atomic_exchange_n(&lock_word, value, __ATOMIC_ACQUIRE);
}

static bool try_take(void) {
    int expected = 0;
    return __atomic_compare_exchange_n(&lock_word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static void lock_contended(const struct process *self) {
    for (int spin = 0; spin < 200; spin++) {
        if (try_take()) return;
    }
    bool can_block = self && self->can_block;
    while (exchange(2) != 0) {
        if (can_block) __builtin_wasm_memory_atomic_wait32(&lock_word, 2, -1);
    }
}

void vfs_lock(void) {
    /* Who we are is looked up before taking the lock: a host may interrupt an instance at
       any function entry, and between taking the lock and naming its owner there must be
       none, or wasi_wasm_recover could not tell that this instance holds it. */
    struct process *self = current_process();
    if (!try_take()) lock_contended(self);
    lock_owner = self;
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
    if (__atomic_exchange_n(&lock_word, 0, __ATOMIC_RELEASE) == 2)
        __builtin_wasm_memory_atomic_notify(&lock_word, 1);
}

/* Where a host reads who holds the lock: its epoch-deadline callback defers an interrupt
   while its own instance holds it, so an operation is never stopped halfway. */
EXPORT("wasi_wasm_lock_owner_slot") uint32_t wasi_wasm_lock_owner_slot(void) {
    return (uint32_t)(uintptr_t)&lock_owner;
}

bool vfs_lock_held_by(const struct process *p) {
    return p && __atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE) == p;
}
