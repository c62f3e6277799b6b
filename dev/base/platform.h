/* What the core needs from the machine it runs on, in one place: the linear memory it
   allocates from, waiting on a word, the instance's own slot for its process, and
   allocator poisoning. In wasm these are builtins; in the native build that the sanitizer
   fuzzer uses (fuzz/), they are functions of the fuzzer's stand-in host. */
#ifndef BASE_PLATFORM_H
#define BASE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PAGE_SIZE 65536u

#if defined(__wasm__)

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(name)))

extern unsigned char __heap_base;
static inline uintptr_t platform_memory_base(void) { return 0; }
static inline uintptr_t platform_heap_base(void) { return (uintptr_t)&__heap_base; }
static inline uint32_t platform_memory_pages(void) { return (uint32_t)__builtin_wasm_memory_size(0); }
/* false when the memory cannot grow by that many pages */
static inline bool platform_memory_grow(uint32_t pages) {
    return __builtin_wasm_memory_grow(0, pages) != (size_t)-1;
}

/* Out of line (platform_wait.c says why). */
void platform_wait32(int *word, int expected, int64_t timeout_ns);
static inline void platform_notify(int *word, uint32_t count) {
    __builtin_wasm_memory_atomic_notify(word, count);
}
/* A host stops a program only at a loop header (wasmtime's epoch deadline): a blocking
   wait wakes at least this often so that a stop never waits for the wait to end (wait.h). */
#define PLATFORM_WAIT_SLICE_NS 10000000 /* 10 ms */
/* The longest a lock waiter sleeps before it looks at the word again (base/lock.c): no
   sleep may depend on a wake-up arriving. */
#define PLATFORM_LOCK_SLEEP_NS PLATFORM_WAIT_SLICE_NS

/* This instance's process lives in a wasm global of the instance: one per instance, where
   everything in memory is shared. */
__asm__(".globaltype wasi_wasm_process, i32\n");
static inline void *platform_instance_process(void) {
    void *p;
    __asm__ volatile("global.get wasi_wasm_process\nlocal.set %0" : "=r"(p));
    return p;
}
static inline void platform_set_instance_process(void *p) {
    __asm__ volatile("local.get %0\nglobal.set wasi_wasm_process" : : "r"(p));
}
static inline void platform_set_stack_pointer(uintptr_t top) {
    __asm__ volatile("local.get %0\nglobal.set __stack_pointer" : : "r"(top));
}

#ifdef WASI_WASM_DEBUG
static inline void platform_poison(void *p, size_t n) { __builtin_memset(p, 0xDB, n); }
#else
static inline void platform_poison(void *p, size_t n) { (void)p, (void)n; }
#endif
static inline void platform_unpoison(void *p, size_t n) { (void)p, (void)n; }

#else /* native: the sanitizer build of fuzz/ */

#define EXPORT(name)
#define IMPORT(name)

uintptr_t platform_memory_base(void);
uintptr_t platform_heap_base(void);
uint32_t platform_memory_pages(void);
bool platform_memory_grow(uint32_t pages);
void platform_wait32(int *word, int expected, int64_t timeout_ns);
void platform_notify(int *word, uint32_t count);
/* Nothing interrupts the native harness, and its clock is virtual: one wait ends a sleep
   however far away its deadline (a slice would loop 2^64 / slice times). */
#define PLATFORM_WAIT_SLICE_NS INT64_MAX
/* The native futex loses no wake-up, so a lost one is the lock's own bug: unbounded here,
   the threaded fuzzer sees it as a hang instead of a slice's delay. */
#define PLATFORM_LOCK_SLEEP_NS (-1)
void *platform_instance_process(void);
void platform_set_instance_process(void *p);
static inline void platform_set_stack_pointer(uintptr_t top) { (void)top; }
void platform_poison(void *p, size_t n);
void platform_unpoison(void *p, size_t n);

#endif

/* A word that only the holder of one mutex (or of the lock exclusive) changes, while others
   read it with atomic loads, changes by a relaxed store: one whose readers need no order
   with anything else it publishes (a count, a flag, a NULL). In wasm that is a plain store:
   wasm's atomic store is sequentially consistent, a fence on x86 (or a locked exchange,
   lock.c), and the JS memory model wasm's follows keeps racing aligned accesses of one size
   from tearing. Natively an atomic relaxed store, so that TSan checks its readers. */
#if defined(__wasm__)
#define STORE_RELAXED(p, v) (*(volatile __typeof__(*(p)) *)(p) = (v))
#else
#define STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif

#endif
