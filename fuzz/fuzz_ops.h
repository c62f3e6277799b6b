/* The op decoder the single-threaded and the threaded harness share (fuzz_ops.c). */
#ifndef FUZZ_OPS_H
#define FUZZ_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "native_host.h"

struct input {
    const uint8_t *data;
    size_t size, pos;
};

static inline uint8_t take_u8(struct input *in) { return in->pos < in->size ? in->data[in->pos++] : 0; }

static inline uint32_t take_u32(struct input *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | take_u8(in);
    return v;
}

static inline uint64_t take_u64(struct input *in) { return (uint64_t)take_u32(in) << 32 | take_u32(in); }

/* This thread's process leaves pipe ends blocking (the threaded harness, where another
   thread can fill or drain the pipe; an endless wait is interrupted by the stand-in host). */
extern __thread bool ops_blocking_pipes;
/* can_block for wasi_wasm_attach on this thread (0: spin, as a browser's main thread). */
extern __thread int32_t ops_can_block;

/* Forgets the pipe handles (a new input). */
void ops_reset(void);
/* Selects g and attaches a process to it if it has none (its memory: pages, if new). */
void ops_attach(struct guest *g, uint32_t pages);
/* Selects g and detaches its process, if any. */
void ops_detach(struct guest *g);
/* op 220..239: a host-API call; op < 220: a WASI call; both from the selected guest. */
void ops_host_call(struct input *in, uint8_t op);
void ops_wasi_call(struct input *in, uint8_t op);

#endif
