#define _GNU_SOURCE
#include "native_host.h"

#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CORE_MEMORY_BYTES ((size_t)1 << 32)
#define CORE_PAGE 65536u
/* The first pages of the core memory stand in for the wasm module's static data: the
   heap starts after them, as it starts after __heap_base in wasm. */
#define HEAP_BASE_OFFSET ((uintptr_t)CORE_PAGE + 8)

/* The core's statics, gathered in two sections by fuzz/core_sections.h. */
extern uint8_t __start_core_data[], __stop_core_data[];
extern uint8_t __start_core_bss[], __stop_core_bss[];

static struct {
    uint8_t *memory;
    uint32_t pages;
    uint32_t initial_pages;
    uint8_t *data_snapshot;
    uint64_t clock_ns;
} host;

static __thread struct guest *current_guest;
jmp_buf *native_exit_target;
uint32_t native_exit_code;

static void fail(const char *what) {
    fprintf(stderr, "native host: %s\n", what);
    abort();
}

/* ---- platform.h, native side ---- */

uintptr_t platform_memory_base(void) { return (uintptr_t)host.memory; }
uintptr_t platform_heap_base(void) { return (uintptr_t)host.memory + HEAP_BASE_OFFSET; }
uint32_t platform_memory_pages(void) { return host.pages; }

/* The core may grow its memory to 512 MiB here, not 4 GiB: with no byte limit set, an input
   then runs into the end of memory (the path a full 4 GiB memory takes) without the
   fuzzer's process using gigabytes. */
#define CORE_MEMORY_GROWABLE ((size_t)512 << 20)

bool platform_memory_grow(uint32_t pages) {
    if ((uint64_t)host.pages + pages > CORE_MEMORY_GROWABLE / CORE_PAGE) return false;
    host.pages += pages;
    return true;
}

/* The virtual clock saturates instead of wrapping: a sleep "forever" (a deadline of
   2^64 - 1 ns) then ends, as it would for a host that gives up waiting. */
static void advance_clock(uint64_t ns) {
    host.clock_ns = host.clock_ns > UINT64_MAX - ns ? UINT64_MAX : host.clock_ns + ns;
}

/* One thread: nothing else can change the word, so a wait can only time out. A sleep
   moves the virtual clock instead of taking time. */
void platform_wait32(int *word, int expected, int64_t timeout_ns) {
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != expected) return;
    if (timeout_ns < 0) fail("a wait without timeout would never end (single-threaded)");
    advance_clock((uint64_t)timeout_ns);
}

void platform_notify(int *word, uint32_t count) { (void)word, (void)count; }

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
    memcpy(core_span(core_dst, len), guest_span(guest_src, len), len);
}

void host_copy_out(uint32_t guest_dst, uintptr_t core_src, uint32_t len) {
    memcpy(guest_span(guest_dst, len), core_span(core_src, len), len);
}

uint32_t host_guest_pages(void) { return current_guest ? current_guest->pages : 0; }

void host_output(uint32_t fd, uintptr_t core_ptr, uint32_t len) {
    if (fd != 1 && fd != 2) fail("output to a stream that is neither stdout nor stderr");
    volatile uint8_t sum = 0;
    const uint8_t *p = core_span(core_ptr, len);
    for (uint32_t i = 0; i < len; i++) sum ^= p[i]; /* ASan checks the range */
}

int32_t host_input(uintptr_t core_ptr, uint32_t len) {
    uint32_t n = len < 7 ? len : 7;
    memcpy(core_span(core_ptr, n), "input\n\n", n);
    return (int32_t)n;
}

uint32_t host_clock_time_get(uint32_t id, uint64_t precision, uintptr_t core_out) {
    (void)precision;
    if (id > 1) return 28;
    advance_clock(1000);
    uint64_t epoch = id == 0 ? 1700000000000000000ull : 0;
    uint64_t now = host.clock_ns > UINT64_MAX - epoch ? UINT64_MAX : host.clock_ns + epoch;
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
    uint64_t now = host.clock_ns / 2;
    memcpy((void *)core_out, &now, 8);
    return 0;
}

uint32_t host_random_get(uintptr_t core_ptr, uint32_t len) {
    memset((void *)core_ptr, 0x5A, len);
    return 0;
}

void host_exit(uint32_t code) {
    native_exit_code = code;
    if (!native_exit_target) fail("proc_exit outside a guest call");
    longjmp(*native_exit_target, 1);
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
}
