/* The native stand-in for a host, for the sanitizer build of the core: the core's linear
   memory is an mmap'ed region, each guest's memory a heap buffer the copy hooks check
   every access against, and the clocks are virtual, so a sleep costs nothing. */
#ifndef FUZZ_NATIVE_HOST_H
#define FUZZ_NATIVE_HOST_H

#include <setjmp.h>
#include <stdint.h>
#include <stddef.h>

struct guest {
    uint8_t *memory;
    uint32_t pages;
    void *process;       /* the core's process for this guest, NULL before attach */
};

/* Call before any core function, once per process lifetime of the harness. */
void native_host_init(void);
/* Brings the core back to its first state: its statics and its memory. */
void native_host_reset(void);
/* The guest whose hooks the next core calls use (the "current instance"). */
void native_host_select(struct guest *g);
struct guest *native_host_current(void);
void native_guest_init(struct guest *g, uint32_t pages);
void native_guest_grow(struct guest *g, uint32_t pages);
void native_guest_free(struct guest *g);

/* proc_exit lands here: set by the caller around each guest call. */
extern jmp_buf *native_exit_target;
extern uint32_t native_exit_code;

#endif
