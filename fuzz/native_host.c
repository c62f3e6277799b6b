#define _GNU_SOURCE
#include "native_host.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CORE_MEMORY_BYTES ((size_t)1 << 32)
#define CORE_PAGE 65536u
/* The first pages of the core memory stand in for the wasm module's static data: the
   heap starts after them, as it starts after __heap_base in wasm. */
#define HEAP_BASE_OFFSET ((uintptr_t)CORE_PAGE + 8)

/* The core's statics, gathered in two sections by fuzz/core_sections.h. */
extern uint8_t __start_core_data[], __stop_core_data[];
extern uint8_t __start_core_bss[], __stop_core_bss[];

/* pages and clock_ns change while threads run (the allocator grows the memory under its
   lock, every thread reads the clock): atomics. */
static struct {
    uint8_t *memory;
    uint32_t pages;
    uint32_t initial_pages;
    uint8_t *data_snapshot;
    uint64_t clock_ns;
    bool threaded;
    bool trace_interrupts; /* $FUZZ_TRACE_INTERRUPTS: print the stack where each one lands */
} host;

static __thread struct guest *current_guest;
__thread jmp_buf *native_exit_target;
__thread uint32_t native_exit_code;
__thread jmp_buf *native_trap_target;

static void fail(const char *what) {
    fprintf(stderr, "native host: %s\n", what);
    abort();
}

/* ---- platform.h, native side ---- */

uintptr_t platform_memory_base(void) { return (uintptr_t)host.memory; }
uintptr_t platform_heap_base(void) { return (uintptr_t)host.memory + HEAP_BASE_OFFSET; }
uint32_t platform_memory_pages(void) { return __atomic_load_n(&host.pages, __ATOMIC_RELAXED); }

/* The core may grow its memory to 512 MiB here, not 4 GiB: with no byte limit set, an input
   then runs into the end of memory (the path a full 4 GiB memory takes) without the
   fuzzer's process using gigabytes. */
#define CORE_MEMORY_GROWABLE ((size_t)512 << 20)

bool platform_memory_grow(uint32_t pages) {
    uint32_t have = platform_memory_pages();
    if ((uint64_t)have + pages > CORE_MEMORY_GROWABLE / CORE_PAGE) return false;
    __atomic_store_n(&host.pages, have + pages, __ATOMIC_RELAXED); /* under the allocator's lock */
    return true;
}

/* The virtual clock saturates instead of wrapping: a sleep "forever" (a deadline of
   2^64 - 1 ns) then ends, as it would for a host that gives up waiting. */
static void advance_clock(uint64_t ns) {
    uint64_t now = __atomic_load_n(&host.clock_ns, __ATOMIC_RELAXED), next;
    do next = now > UINT64_MAX - ns ? UINT64_MAX : now + ns;
    while (!__atomic_compare_exchange_n(&host.clock_ns, &now, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

static uint64_t clock_now(void) { return __atomic_load_n(&host.clock_ns, __ATOMIC_RELAXED); }

/* ---- threaded mode: real waits, and interrupts where a host would deliver them ---- */

/* A wait for a lock word (no timeout) that lasts this long was never woken: a lost
   wake-up, or a holder that never lets go. */
#define LOCK_WAIT_LIMIT_NS 10000000000ll
/* A wait at least this long (a pipe wait: the native slice is INT64_MAX; a sleep of 18
   minutes or more) is "endless": it waits for real in slices, and after ENDLESS_BUDGET_NS
   of them in one guest call the program is interrupted, as a host's timeout stops it. */
#define ENDLESS_NS ((int64_t)1 << 40)
#define ENDLESS_SLICE_NS 1000000ll   /* 1 ms */
#define ENDLESS_BUDGET_NS 20000000ll /* 20 ms */
/* A finite sleep waits this long for real (other threads run meanwhile), then the virtual
   clock jumps by the whole sleep. */
#define SLEEP_SLICE_NS 100000ll      /* 100 us */
/* A process that may not block spins on the clock while it sleeps: this many clock reads
   in one guest call and it is interrupted (its sleep would take hours of reads). */
#define SPIN_CLOCK_READS 10000u

static __thread int32_t interrupt_countdown = -1; /* <0: none pending */
static __thread uint32_t hook_delay;
static __thread int64_t endless_waited_ns;
static __thread uint32_t clock_reads;
static __thread uint64_t notifies;

void native_host_set_threaded(bool threaded) {
    host.threaded = threaded;
    host.trace_interrupts = getenv("FUZZ_TRACE_INTERRUPTS") != NULL;
}

void native_call_begin(void) {
    endless_waited_ns = 0;
    clock_reads = 0;
}

void native_interrupt_after(uint32_t points) { interrupt_countdown = (int32_t)(points & 0x7FFFFFFF); }

bool native_interrupt_cancel(void) {
    bool pending = interrupt_countdown >= 0;
    interrupt_countdown = -1;
    return pending;
}

uint64_t native_notifies(void) { return notifies; }

void native_set_hook_delay(uint32_t level) { hook_delay = level; }

static void delay_point(void);

/* Where wasm would check the epoch deadline (a hook call, a wait): a pending interrupt
   lands here unless the process holds or takes the lock (its busy word), as the Python
   host's deadline callback defers it (src/wasi_wasm/_interrupt.py). */
static void interrupt_point(void) {
    delay_point();
    if (interrupt_countdown < 0 || !native_trap_target || !current_guest) return;
    if (interrupt_countdown > 0) {
        interrupt_countdown--;
        return;
    }
    if (current_guest->busy && *(volatile int *)current_guest->busy != 0) return; /* deferred */
    interrupt_countdown = -1;
    if (host.trace_interrupts) {
        fprintf(stderr, "native host: an interrupt lands here\n");
        __sanitizer_print_stack_trace();
    }
    longjmp(*native_trap_target, 1);
}

/* A slow host: a hook called while the process holds or takes the lock yields the CPU or
   sleeps, so the others run into the lock it holds (the contended paths of lock.c). */
static void delay_point(void) {
    if (!hook_delay || !current_guest || !current_guest->busy || !*(volatile int *)current_guest->busy) return;
    if (hook_delay == 1) {
        sched_yield();
    } else {
        struct timespec pause = { 0, 20000 };
        nanosleep(&pause, NULL);
    }
}

static int64_t real_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* false: it timed out */
static bool futex_wait(int *word, int expected, int64_t ns) {
    struct timespec ts = { (time_t)(ns / 1000000000ll), (long)(ns % 1000000000ll) };
    long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
    return !(r < 0 && errno == ETIMEDOUT);
}

static void threaded_wait(int *word, int expected, int64_t timeout_ns) {
    interrupt_point();
    if (timeout_ns < 0) {
        if (!futex_wait(word, expected, LOCK_WAIT_LIMIT_NS) && __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected)
            fail("a lock wait was never woken in 10 s (a lost wake-up, or a holder that never released)");
        return;
    }
    if (timeout_ns >= ENDLESS_NS) {
        int64_t start = real_ns();
        futex_wait(word, expected, ENDLESS_SLICE_NS);
        endless_waited_ns += real_ns() - start;
        if (endless_waited_ns >= ENDLESS_BUDGET_NS && __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) {
            if (!native_trap_target) fail("an endless wait outside a guest call");
            interrupt_countdown = 0; /* the host's timeout: stop the program */
            interrupt_point();
        }
        return;
    }
    bool woken = futex_wait(word, expected, timeout_ns < SLEEP_SLICE_NS ? timeout_ns : SLEEP_SLICE_NS);
    if (!woken && __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) advance_clock((uint64_t)timeout_ns);
    interrupt_point();
}

/* One thread: nothing else can change the word, so a wait can only time out. A sleep
   moves the virtual clock instead of taking time. Threaded: a futex wait (above). */
void platform_wait32(int *word, int expected, int64_t timeout_ns) {
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != expected) return;
    if (host.threaded) {
        threaded_wait(word, expected, timeout_ns);
        return;
    }
    if (timeout_ns < 0) fail("a wait without timeout would never end (single-threaded)");
    advance_clock((uint64_t)timeout_ns);
}

void platform_notify(int *word, uint32_t count) {
    if (!host.threaded) return;
    notifies++;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count > INT32_MAX ? INT32_MAX : (int)count, NULL, NULL, 0);
}

static __thread void *instance_process;
void *platform_instance_process(void) { return instance_process; }
void platform_set_instance_process(void *p) {
    instance_process = p;
    if (current_guest) current_guest->process = p;
}

void platform_poison(void *p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
void platform_unpoison(void *p, size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }

/* ---- the host hooks the core imports ---- */

static uint8_t *guest_span(uint32_t guest, uint32_t len) {
    struct guest *g = current_guest;
    if (!g) fail("a guest copy with no guest bound");
    if ((uint64_t)guest + len > (uint64_t)g->pages * CORE_PAGE)
        fail("the core copied outside the guest's memory (a pointer it did not check)");
    return g->memory + guest;
}

static uint8_t *core_span(uintptr_t core, uint32_t len) {
    uintptr_t start = (uintptr_t)host.memory;
    bool in_memory = core >= start && core + len <= start + (uintptr_t)host.pages * CORE_PAGE;
    /* The core may also pass its own stack and statics, which live outside the region
       natively; AddressSanitizer checks those. */
    (void)in_memory;
    return (uint8_t *)core;
}

void host_copy_in(uintptr_t core_dst, uint32_t guest_src, uint32_t len) {
    interrupt_point();
    memcpy(core_span(core_dst, len), guest_span(guest_src, len), len);
}

void host_copy_out(uint32_t guest_dst, uintptr_t core_src, uint32_t len) {
    interrupt_point();
    memcpy(guest_span(guest_dst, len), core_span(core_src, len), len);
}

uint32_t host_guest_pages(void) {
    interrupt_point();
    return current_guest ? current_guest->pages : 0;
}

void host_output(uint32_t fd, uintptr_t core_ptr, uint32_t len) {
    if (fd != 1 && fd != 2) fail("output to a stream that is neither stdout nor stderr");
    interrupt_point();
    volatile uint8_t sum = 0;
    const uint8_t *p = core_span(core_ptr, len);
    for (uint32_t i = 0; i < len; i++) sum ^= p[i]; /* ASan checks the range */
}

int32_t host_input(uintptr_t core_ptr, uint32_t len) {
    interrupt_point();
    uint32_t n = len < 7 ? len : 7;
    memcpy(core_span(core_ptr, n), "input\n\n", n);
    return (int32_t)n;
}

uint32_t host_clock_time_get(uint32_t id, uint64_t precision, uintptr_t core_out) {
    (void)precision;
    interrupt_point();
    if (host.threaded && ++clock_reads > SPIN_CLOCK_READS && native_trap_target) {
        interrupt_countdown = 0; /* spinning in a sleep: the host's timeout */
        interrupt_point();
    }
    if (id > 1) return 28;
    advance_clock(1000);
    uint64_t epoch = id == 0 ? 1700000000000000000ull : 0;
    uint64_t clock = clock_now();
    uint64_t now = clock > UINT64_MAX - epoch ? UINT64_MAX : clock + epoch;
    memcpy((void *)core_out, &now, 8);
    return 0;
}

uint32_t host_clock_res_get(uint32_t id, uintptr_t core_out) {
    if (id > 1) return 28;
    uint64_t res = 1;
    memcpy((void *)core_out, &res, 8);
    return 0;
}

uint32_t host_cpu_clock_time_get(uint32_t id, uint64_t precision, uintptr_t core_out) {
    (void)id, (void)precision;
    interrupt_point();
    uint64_t now = clock_now() / 2;
    memcpy((void *)core_out, &now, 8);
    return 0;
}

uint32_t host_random_get(uintptr_t core_ptr, uint32_t len) {
    interrupt_point();
    memset((void *)core_ptr, 0x5A, len);
    return 0;
}

void host_exit(uint32_t code) {
    native_exit_code = code;
    if (!native_exit_target) fail("proc_exit outside a guest call");
    longjmp(*native_exit_target, 1);
}

/* ---- lazy host mounts: a small virtual host tree (token 1 is its root) ----
   a (file, 5 B), b (file, 200000 B: chunks), d/ with e/ (300 names: the listing buffer
   grows) holding f (file), l -> a, ld -> d, up -> ../../x (a link out of the mount), p (a
   file that vanished: read gives ENOENT), dd/ (listing refused: EACCES), bad/ (a listing
   the core must refuse: EIO), s (a file shorter than listed). Bytes are a function of token
   and offset, so any thread can read at once. */
enum { VT_ROOT = 1, VT_A, VT_B, VT_D, VT_E, VT_F, VT_P, VT_DD, VT_BAD, VT_S, VT_MANY };
struct vt_entry { uint64_t parent; uint8_t type; const char *name; uint64_t size; const char *target; };
static const struct vt_entry vt[] = {
    [VT_ROOT] = { 0, 3, "", 0, NULL },     [VT_A] = { VT_ROOT, 4, "a", 5, NULL },
    [VT_B] = { VT_ROOT, 4, "b", 200000, NULL }, [VT_D] = { VT_ROOT, 3, "d", 0, NULL },
    [VT_E] = { VT_D, 3, "e", 0, NULL },     [VT_F] = { VT_E, 4, "f", 70000, NULL },
    [VT_P] = { VT_ROOT, 4, "p", 10, NULL }, [VT_DD] = { VT_ROOT, 3, "dd", 0, NULL },
    [VT_BAD] = { VT_ROOT, 3, "bad", 0, NULL }, [VT_S] = { VT_ROOT, 4, "s", 100, NULL },
};
#define VT_COUNT (sizeof vt / sizeof vt[0])
#define VT_MANY_COUNT 300u

static uint32_t vt_record(uint8_t *out, uint32_t room, uint64_t token, uint64_t size, uint8_t type,
                          const char *name, const char *target) {
    uint32_t name_len = (uint32_t)strlen(name), target_len = target ? (uint32_t)strlen(target) : 0;
    uint32_t total = (40 + name_len + target_len + 7) & ~7u;
    if (total > room) return total;
    memset(out, 0, total);
    memcpy(out, &token, 8);
    memcpy(out + 8, &size, 8);
    uint64_t atim = 1600000000000000000ull + token, mtim = atim + 1;
    memcpy(out + 16, &atim, 8);
    memcpy(out + 24, &mtim, 8);
    out[32] = type;
    uint16_t nl = (uint16_t)name_len;
    memcpy(out + 34, &nl, 2);
    memcpy(out + 36, &target_len, 4);
    memcpy(out + 40, name, name_len);
    if (target_len) memcpy(out + 40 + name_len, target, target_len);
    return total;
}

int32_t host_lazy_list(uint64_t token, uintptr_t core_buf, uint32_t cap) {
    interrupt_point();
    if (token == VT_DD) return -2;  /* EACCES */
    if (token == 0 || token >= VT_COUNT || vt[token].type != 3) return -44; /* ENOENT: gone */
    uint8_t scratch[64];
    uint32_t need = 0;
    uint8_t *out = (uint8_t *)core_buf;
    /* Twice: first the length, then (if it fits) the records. */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t pos = 0;
        for (uint64_t t = 1; t < VT_COUNT; t++) {
            if (vt[t].parent != token) continue;
            uint8_t *dst = pass ? out + pos : scratch;
            pos += vt_record(dst, pass ? cap - pos : 0, t, vt[t].size, vt[t].type, vt[t].name, NULL);
        }
        if (token == VT_ROOT) {
            pos += vt_record(pass ? out + pos : scratch, pass ? cap - pos : 0, 0, 0, 7, "l", "a");
            pos += vt_record(pass ? out + pos : scratch, pass ? cap - pos : 0, 0, 0, 7, "ld", "d");
            pos += vt_record(pass ? out + pos : scratch, pass ? cap - pos : 0, 0, 0, 7, "up", "../../x");
        }
        if (token == VT_E) {
            for (uint32_t i = 0; i < VT_MANY_COUNT; i++) {
                char name[8];
                snprintf(name, sizeof name, "n%03u", i);
                pos += vt_record(pass ? out + pos : scratch, pass ? cap - pos : 0, VT_MANY + i, i, 4, name, NULL);
            }
        }
        if (token == VT_BAD)
            pos += vt_record(pass ? out + pos : scratch, pass ? cap - pos : 0, VT_A, 1, 4, "x/y", NULL);
        need = pos;
        if (need > cap) return (int32_t)need;
    }
    return (int32_t)need;
}

int32_t host_lazy_read(uint64_t token, uint64_t offset, uintptr_t core_buf, uint32_t len) {
    interrupt_point();
    if (token == VT_P) return -44; /* vanished between listing and open */
    uint64_t size = token < VT_COUNT ? vt[token].size : token - VT_MANY;
    if (token == VT_S) size = 50;
    if (token == 0 || (token < VT_COUNT && vt[token].type != 4) || token >= VT_MANY + VT_MANY_COUNT) return -5;
    if (offset >= size) return 0;
    uint64_t n = size - offset < len ? size - offset : len;
    uint8_t *out = (uint8_t *)core_buf;
    for (uint64_t i = 0; i < n; i++) out[i] = (uint8_t)(token * 31 + offset + i);
    return (int32_t)n;
}

/* ---- lifecycle ---- */

/* The sections hold AddressSanitizer's redzones between the statics: copied as raw
   bytes, unchecked. */
__attribute__((no_sanitize("address"))) static void raw_copy(uint8_t *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

__attribute__((no_sanitize("address"))) static void raw_zero(uint8_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = 0;
}

void native_host_init(void) {
    if (host.memory) return;
    host.memory = mmap(NULL, CORE_MEMORY_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (host.memory == MAP_FAILED) fail("cannot reserve the core memory");
    host.initial_pages = 2;
    host.pages = host.initial_pages;
    size_t data_bytes = (size_t)(__stop_core_data - __start_core_data);
    host.data_snapshot = malloc(data_bytes ? data_bytes : 1);
    raw_copy(host.data_snapshot, __start_core_data, data_bytes);
}

void native_host_reset(void) {
    raw_copy(__start_core_data, host.data_snapshot, (size_t)(__stop_core_data - __start_core_data));
    raw_zero(__start_core_bss, (size_t)(__stop_core_bss - __start_core_bss));
    /* Give the pages back and make the whole region addressable again: the core poisons
       what it frees, and a fresh start must not inherit that. */
    size_t used = (size_t)host.pages * CORE_PAGE;
    ASAN_UNPOISON_MEMORY_REGION(host.memory, used);
    madvise(host.memory, used, MADV_DONTNEED);
    host.pages = host.initial_pages;
    host.clock_ns = 0;
    instance_process = NULL;
    current_guest = NULL;
    interrupt_countdown = -1;
}

void native_host_select(struct guest *g) {
    current_guest = g;
    instance_process = g ? g->process : NULL;
}

struct guest *native_host_current(void) { return current_guest; }

void native_guest_init(struct guest *g, uint32_t pages) {
    g->pages = pages;
    g->memory = calloc(pages, CORE_PAGE);
    g->process = NULL;
    g->busy = NULL;
}

void native_guest_grow(struct guest *g, uint32_t pages) {
    if (g->pages + pages > 4) return;
    uint8_t *bigger = calloc(g->pages + pages, CORE_PAGE);
    memcpy(bigger, g->memory, (size_t)g->pages * CORE_PAGE);
    free(g->memory);
    g->memory = bigger;
    g->pages += pages;
}

void native_guest_free(struct guest *g) {
    free(g->memory);
    g->memory = NULL;
    g->pages = 0;
    g->process = NULL;
    g->busy = NULL;
}
