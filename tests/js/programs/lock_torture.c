/* The core's lock alone (dev/base/lock.c and dev/base/cas.c, compiled with this file), for
   tests/test_js.py's lock torture: workers take it exclusive, shared, and shared with a
   holder mutex, and hold it long enough that waiters give up spinning and sleep. Every time
   two were inside where only one may be counts as a violation; the exclusive sections also
   count with a plain increment, which two writers at once would lose. */
#include "base/lock.h"

uint64_t realtime_now(void) { return 0; } /* the one hook lock.c uses (vfs_now) */

enum { MAX_WORKERS = 16, HOLD_LOOPS = 3000 };
static struct lock_holder holders[MAX_WORKERS];
static int object_mutex;
static int exclusive_inside, shared_inside, object_inside, violations, exclusive_rounds;

static int enter(int *count) { return __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST); }
static void leave(int *count) { __atomic_sub_fetch(count, 1, __ATOMIC_SEQ_CST); }
static void violated(void) { __atomic_add_fetch(&violations, 1, __ATOMIC_SEQ_CST); }
static void hold(void) {
    for (volatile int i = 0; i < HOLD_LOOPS; i++) {}
}

EXPORT("setup") void setup(int workers) {
    for (int i = 0; i < workers && i < MAX_WORKERS; i++) {
        holders[i].tag = 0x40000000u | (uint32_t)(i + 1);
        holders[i].can_block = true;
        vfs_register_holder(&holders[i]);
    }
}

static void exclusive_round(struct lock_holder *h) {
    vfs_lock(h, true);
    if (enter(&exclusive_inside) != 1 || __atomic_load_n(&shared_inside, __ATOMIC_SEQ_CST)) violated();
    hold();
    exclusive_rounds++; /* plain: a second writer inside would lose increments */
    leave(&exclusive_inside);
    vfs_unlock();
}

static void shared_round(struct lock_holder *h, bool with_mutex) {
    vfs_lock_shared(h);
    enter(&shared_inside);
    if (__atomic_load_n(&exclusive_inside, __ATOMIC_SEQ_CST)) violated();
    if (with_mutex) {
        holder_lock_mutex(h, MUTEX_OBJECT, &object_mutex);
        if (enter(&object_inside) != 1) violated();
        hold();
        leave(&object_inside);
        holder_unlock_mutex(h, MUTEX_OBJECT);
    } else {
        hold();
    }
    leave(&shared_inside);
    vfs_unlock_shared(h);
}

EXPORT("run") void run(int worker, int rounds) {
    struct lock_holder *h = &holders[worker];
    for (int r = 0; r < rounds; r++) {
        if (r % 3 == 0) exclusive_round(h);
        else shared_round(h, r % 3 == 2);
    }
}

EXPORT("violations") int get_violations(void) { return violations; }
EXPORT("exclusive_rounds") int get_exclusive_rounds(void) { return exclusive_rounds; }
