/* The threaded mode of the core's fuzzer: several processes run on real threads at the
   same time on one filesystem, so the core's concurrent paths run as they do in a host
   with several programs: the big-reader lock (base/lock.c), writers of file data under the
   shared lock with per-file data mutexes and the allocator's mutex (vfs/filedata.c,
   wasi/wasi_fd_io.c), pipes with blocking waits (vfs/pipe.c), and wasi_wasm_recover after
   an interrupt. Built with ASan + UBSan (fuzz_core_threads) and with ThreadSanitizer
   (fuzz_core_tsan): python tools/fuzz_core.py --threads [--tsan].

   Input format (fuzz/README.md):
     byte 0        threads = 2 + b % 3; (b / 3) & 1: thread 0 may not block (it spins, as a
                   browser's main thread); (b / 6) & 1: pipe ends start blocking;
                   (b / 12) % 3: hooks called under the lock yield (1) or sleep (2)
     then          up to `threads` op streams separated by SEPARATOR; thread i runs stream
                   i % (number of streams), so an input without a separator runs the same
                   stream on every thread, on the same files
   Each stream is ops as fuzz_core.c decodes them (fuzz_ops.c: < 220 a WASI call, 220..239 a
   host call), each from the thread's own process and guest memory, except 240..255, which
   steer the threads (control() below; 251 n loops back; 254 kills the thread's program,
   255 reaps the last one killed). All threads start together on a barrier; after they
   joined, every killed process must have been reaped exactly once, every process must hold
   nothing and fsck must find nothing. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_api.h"
#include "fuzz_ops.h"
#include "native_host.h"

#define MAX_THREADS 4
#define STEPS 400
static const uint8_t SEPARATOR[4] = { 0xF5, 'T', 'H', 0xF5 };

struct worker {
    pthread_t thread;
    uint32_t index;
    bool active, can_block, blocking_pipes;
    uint32_t hook_delay;
    /* Op 251's loop: where it goes back to, how many more times, and whether it runs. */
    size_t loop_start;
    uint32_t loops_left;
    bool looping;
    const uint8_t *data;
    size_t size;
    struct guest guest;
};

static struct worker workers[MAX_THREADS];
static pthread_barrier_t start_line, finish_line;
static uint32_t arrivals; /* the soft rendezvous of op 245 */

/* Processes killed between two calls (op 254: a Worker terminated, never detached), which
   any thread may reap (op 255), several at once: each must end exactly once. An index is
   taken before its id is stored, so a reaper may read 0, which is no process's id. */
#define MAX_DEAD 64u
static struct {
    uint32_t count;            /* kills so far (may pass MAX_DEAD: those were detached) */
    uint32_t ids[MAX_DEAD];
    bool joined[MAX_DEAD];     /* it was in the shared thread group (op 238) */
    uint32_t reaped[MAX_DEAD]; /* reaps of each that ended it */
} dead;

static void fail(const char *what, uint32_t value) {
    fprintf(stderr, "fuzz_core_threads: %s (%u)\n", what, value);
    abort();
}

static int64_t real_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void spin(uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) __builtin_ia32_pause();
}

/* What a host does after it interrupted a program: release what the process held (the
   interrupt landed where its busy word said nothing, so nothing), flush, detach. */
static void interrupted(struct guest *g) {
    native_exit_target = NULL;
    int32_t held = wasi_wasm_recover();
    if (held) fail("an interrupt landed while the busy word was 0, yet recover released a lock", (uint32_t)held);
    wasi_wasm_flush();
    ops_detach(g);
}

/* One WASI call, which an interrupt may end (native_host.c: at a hook or a wait). */
static void guest_call(struct worker *w, struct input *in, uint8_t op) {
    jmp_buf trap;
    native_call_begin();
    native_trap_target = &trap;
    if (setjmp(trap) == 0) {
        ops_wasi_call(in, op);
        native_trap_target = NULL;
        return;
    }
    native_trap_target = NULL;
    interrupted(&w->guest);
}

/* Op 254: this thread's program dies between two calls, holding nothing, as a Worker that
   was terminated: its process stays in the core until someone reaps it, and the thread's
   next op starts a new program. */
static void kill_program(struct guest *g) {
    native_host_select(g);
    if (!g->process) return;
    uint32_t k = __atomic_fetch_add(&dead.count, 1, __ATOMIC_SEQ_CST);
    if (k >= MAX_DEAD) {
        ops_detach(g);
        return;
    }
    __atomic_store_n(&dead.joined[k], g->joined, __ATOMIC_SEQ_CST);
    __atomic_store_n(&dead.ids[k], wasi_wasm_process_id(), __ATOMIC_SEQ_CST);
    g->process = NULL;
    g->busy = NULL;
    native_host_select(g); /* no process on this thread now */
}

/* Reaps the k-th killed process from the current process (or none): exactly one reap of
   an id may end it; the others, at the same time or later, must find no such process. Odd
   kills are reaped as a JS page does, by thread group (wasi_wasm_reap_group: the group
   alone of its process), unless the process joined the shared group, whose other
   processes still run (a group promises one thread; breaking it is for op 238's
   locking, not for reaps). */
static int32_t reap_dead(uint32_t k) {
    uint32_t id = __atomic_load_n(&dead.ids[k], __ATOMIC_SEQ_CST);
    bool by_group = (k & 1) && !__atomic_load_n(&dead.joined[k], __ATOMIC_SEQ_CST);
    int32_t got = by_group ? wasi_wasm_reap_group(id) : wasi_wasm_reap(id);
    if (got == 1) fail("a process killed between two calls held a lock", id);
    if (got != 0 && got != -28) fail("wasi_wasm_reap gave neither 0 nor -EINVAL", (uint32_t)got);
    if (got == 0 && __atomic_add_fetch(&dead.reaped[k], 1, __ATOMIC_SEQ_CST) > 1)
        fail("two reaps of one process both ended it", id);
    return got;
}

/* Op 255: reaps the last process killed, as the main thread of a page reaps a Worker
   after terminate() (two threads may reap it at once: op 245 before it pairs them). */
static void reap_last_killed(void) {
    uint32_t count = __atomic_load_n(&dead.count, __ATOMIC_SEQ_CST);
    if (count) reap_dead((count < MAX_DEAD ? count : MAX_DEAD) - 1);
}

/* Op 251 n: n = 0 marks where a loop starts (the next op; else the stream's start); the
   first n > 0 reached goes back there n times, and so does each later one until the count
   runs out (then the next 251 n starts a new count). A race that needs one thread to
   repeat a few calls for as long as another reads (a create and unlink cycle against
   listings: seed reclaim_under_listers) then takes a few bytes instead of the whole input,
   and STEPS still bounds every stream. */
static void loop(struct worker *w, struct input *in, uint8_t n) {
    if (n == 0) {
        w->loop_start = in->pos;
        w->looping = false;
        return;
    }
    if (!w->looping) {
        w->looping = true;
        w->loops_left = n;
    }
    if (w->loops_left == 0) {
        w->looping = false;
        return;
    }
    w->loops_left--;
    in->pos = w->loop_start;
}

/* Ops 240..255 steer the thread instead of calling the core. */
static void control(struct worker *w, struct input *in, uint8_t op) {
    struct guest *g = &w->guest;
    switch (op) {
    case 240: case 241: case 242: case 243: /* let the other threads get ahead */
        spin(64u << (2 * (op - 240)));
        break;
    case 244:
        sched_yield();
        break;
    case 245: { /* a rendezvous of two: the first to arrive waits (2 ms at most) for the next */
        uint32_t mine = __atomic_add_fetch(&arrivals, 1, __ATOMIC_SEQ_CST);
        int64_t give_up = real_ns() + 2000000;
        if (mine & 1)
            while (__atomic_load_n(&arrivals, __ATOMIC_SEQ_CST) == mine && real_ns() < give_up) sched_yield();
        break;
    }
    case 246: { /* fsck now, with the lock exclusive while the other threads run */
        if (!g->process) break;
        uint32_t problems = wasi_wasm_fsck();
        if (problems) fail("fsck found problems while the threads ran", problems);
        break;
    }
    case 247: /* a host interrupt, landing after this many interrupt points */
        native_interrupt_after(take_u8(in) % 32);
        break;
    case 248: case 249: /* pipe ends stay blocking, or not */
        ops_blocking_pipes = w->can_block && !ops_blocking_pipes;
        break;
    case 250: /* hooks under the lock: as fast as they come, yield, sleep */
        native_set_hook_delay((w->hook_delay = (w->hook_delay + 1) % 3));
        break;
    case 251:
        loop(w, in, take_u8(in));
        break;
    case 254:
        kill_program(g);
        break;
    case 255:
        reap_last_killed();
        break;
    default: /* 252, 253: a new program on this thread */
        ops_detach(g);
        ops_attach(g, g->pages ? g->pages : 1 + w->index % 2);
        break;
    }
}

static void run_stream(struct worker *w) {
    struct guest *g = &w->guest;
    ops_can_block = w->can_block;
    ops_blocking_pipes = w->blocking_pipes && w->can_block;
    native_interrupt_cancel();
    native_set_hook_delay(w->hook_delay);
    ops_attach(g, 1 + w->index % 2);
    struct input in = { w->data, w->size, 0 };
    w->loop_start = 0;
    w->looping = false;
    for (int steps = 0; in.pos < in.size && steps < STEPS; steps++) {
        uint8_t op = take_u8(&in);
        if (op >= 240) {
            control(w, &in, op);
            continue;
        }
        if (!g->process) ops_attach(g, 1 + w->index % 2);
        if (!g->process) continue; /* out of memory: the core said so */
        if (op >= 220) ops_host_call(&in, op);
        else guest_call(w, &in, op);
    }
    native_interrupt_cancel();
    native_host_select(NULL);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    for (;;) {
        pthread_barrier_wait(&start_line);
        if (w->active) run_stream(w);
        pthread_barrier_wait(&finish_line);
    }
    return NULL;
}

static void start_pool(void) {
    static bool started;
    if (started) return;
    started = true;
    native_host_set_threaded(true);
    pthread_barrier_init(&start_line, NULL, MAX_THREADS + 1);
    pthread_barrier_init(&finish_line, NULL, MAX_THREADS + 1);
    for (uint32_t i = 0; i < MAX_THREADS; i++) {
        workers[i].index = i;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);
        if (pthread_create(&workers[i].thread, &attr, worker_main, &workers[i])) fail("pthread_create", i);
        pthread_attr_destroy(&attr);
    }
}

/* Splits data into at most max streams at SEPARATOR; returns how many. */
static uint32_t split(const uint8_t *data, size_t size, const uint8_t **part, size_t *part_size, uint32_t max) {
    uint32_t n = 0;
    size_t begin = 0;
    while (n + 1 < max) {
        const uint8_t *at = memmem(data + begin, size - begin, SEPARATOR, sizeof SEPARATOR);
        if (!at) break;
        part[n] = data + begin;
        part_size[n++] = (size_t)(at - (data + begin));
        begin = (size_t)(at - data) + sizeof SEPARATOR;
    }
    part[n] = data + begin;
    part_size[n++] = size - begin;
    return n;
}

/* After the threads joined: every killed process reaped once (here, if no op did), nothing
   held, nothing inconsistent. */
static void check_after_join(uint32_t threads) {
    native_host_select(NULL);
    uint32_t killed = __atomic_load_n(&dead.count, __ATOMIC_SEQ_CST);
    for (uint32_t k = 0; k < killed && k < MAX_DEAD; k++) {
        bool was_reaped = dead.reaped[k] != 0;
        if ((reap_dead(k) == 0) == was_reaped) fail("a killed process was not reaped exactly once", dead.ids[k]);
    }
    for (uint32_t i = 0; i < threads; i++) {
        struct guest *g = &workers[i].guest;
        if (!g->process) continue;
        native_host_select(g);
        if (g->busy && *g->busy) fail("a process's busy word stays set after its thread ended", (uint32_t)*g->busy);
        if (wasi_wasm_recover()) fail("a process still held the lock after its thread ended", i);
    }
    native_host_select(NULL);
    uint32_t problems = wasi_wasm_fsck();
    if (problems) fail("fsck found problems after the threads joined", problems);
    /* Nobody waits now: an unlock that wakes someone counts readers waiting who are gone
       (lock.c's readers_waiting, left raised by a reader interrupted in its wait). */
    uint64_t before = native_notifies();
    wasi_wasm_used_bytes();
    if (native_notifies() != before) fail("an unlock with no waiter left woke the lock word (readers_waiting leaked)", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    native_host_init();
    start_pool();
    native_host_reset();
    ops_reset();
    uint32_t threads = 2 + data[0] % 3;
    const uint8_t *part[MAX_THREADS];
    size_t part_size[MAX_THREADS];
    uint32_t parts = split(data + 1, size - 1, part, part_size, threads);
    for (uint32_t i = 0; i < MAX_THREADS; i++) {
        struct worker *w = &workers[i];
        w->active = i < threads;
        w->can_block = !(i == 0 && (data[0] / 3) & 1);
        w->blocking_pipes = (data[0] / 6) & 1;
        w->hook_delay = (data[0] / 12) % 3;
        w->data = part[i % parts];
        w->size = part_size[i % parts];
    }
    __atomic_store_n(&arrivals, 0, __ATOMIC_SEQ_CST);
    memset(&dead, 0, sizeof dead);
    pthread_barrier_wait(&start_line);
    pthread_barrier_wait(&finish_line);
    check_after_join(threads);
    for (uint32_t i = 0; i < MAX_THREADS; i++) {
        ops_detach(&workers[i].guest);
        native_guest_free(&workers[i].guest);
    }
    native_host_select(NULL);
    return 0;
}
