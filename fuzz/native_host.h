/* The native stand-in for a host, for the sanitizer build of the core: the core's linear
   memory is an mmap'ed region, each guest's memory a heap buffer the copy hooks check
   every access against, and the clocks are virtual, so a sleep costs nothing. In threaded
   mode (fuzz_core_threads.c) waits are real futex waits and every hook a point where an
   interrupt may land, as a host's epoch deadline does. */
#ifndef FUZZ_NATIVE_HOST_H
#define FUZZ_NATIVE_HOST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct guest {
    uint8_t *memory;
    uint32_t pages;
    void *process;       /* the core's process for this guest, NULL before attach */
    int *busy;           /* its busy word (wasi_wasm_busy_slot), NULL before attach */
    bool joined;         /* the process joined the shared thread group (op 238) */
};

/* Call before any core function, once per process lifetime of the harness. */
void native_host_init(void);
/* Threaded mode, set before the first thread starts: platform_wait32 sleeps on the word
   (a Linux futex) and platform_notify wakes, instead of one thread's virtual waits. */
void native_host_set_threaded(bool threaded);
/* Brings the core back to its first state: its statics and its memory. */
void native_host_reset(void);
/* The guest whose hooks the next core calls use (the "current instance", per thread). */
void native_host_select(struct guest *g);
struct guest *native_host_current(void);
void native_guest_init(struct guest *g, uint32_t pages);
void native_guest_grow(struct guest *g, uint32_t pages);
void native_guest_free(struct guest *g);

/* proc_exit lands here: set by the caller around each guest call (per thread). */
extern __thread jmp_buf *native_exit_target;
extern __thread uint32_t native_exit_code;

/* ---- threaded mode: interrupts, as a host's epoch deadline stops a program ----
   An interrupt lands at a hook call or a wait of the core (where wasm would check the
   deadline) while native_trap_target is set, only when the guest's busy word is 0: the
   Python host defers it while the process holds or takes the lock. It longjmps to
   native_trap_target; the caller then does what a host does (wasi_wasm_recover,
   flush, detach). */
extern __thread jmp_buf *native_trap_target;
/* A guest call starts: the endless-wait and spin budgets start again. */
void native_call_begin(void);
/* Interrupt after `points` more interrupt points (0: at the next one). */
void native_interrupt_after(uint32_t points);
/* Cancels a pending interrupt (the guest call ended first); true if one was pending. */
bool native_interrupt_cancel(void);
/* A slow host on this thread: a hook called while its process holds the lock yields the
   CPU (1) or sleeps 20 us (2); 0: none. */
void native_set_hook_delay(uint32_t level);
/* Wake-ups (platform_notify calls) made by this thread so far. */
uint64_t native_notifies(void);

#endif
