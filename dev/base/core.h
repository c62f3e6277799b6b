/* Byte helpers every part of the core uses, on top of the platform layer. */
#ifndef BASE_CORE_H
#define BASE_CORE_H

#include "base/platform.h"
#include "base/wasi_abi.h"

static inline void mem_copy(void *dst, const void *src, size_t n) { __builtin_memcpy(dst, src, n); }
static inline void mem_move(void *dst, const void *src, size_t n) { __builtin_memmove(dst, src, n); }
static inline void mem_zero(void *dst, size_t n) { __builtin_memset(dst, 0, n); }
static inline bool mem_equal(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return false;
    return true;
}

static inline void put_u16(uint8_t *p, uint16_t v) { mem_copy(p, &v, 2); }
static inline void put_u32(uint8_t *p, uint32_t v) { mem_copy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { mem_copy(p, &v, 8); }
static inline uint16_t get_u16(const uint8_t *p) { uint16_t v; mem_copy(&v, p, 2); return v; }
static inline uint32_t get_u32(const uint8_t *p) { uint32_t v; mem_copy(&v, p, 4); return v; }
static inline uint64_t get_u64(const uint8_t *p) { uint64_t v; mem_copy(&v, p, 8); return v; }

/* Shared-memory words that threads write often get cache lines of their own: a word every
   call reads must not share a line with one another thread writes at every call (each
   such write evicts the line from every other core, false sharing). A struct with this
   attribute starts a line and, its size rounded up to it, ends one. */
#define CACHE_LINE 64
#define OWN_CACHE_LINES __attribute__((aligned(CACHE_LINE)))

static inline uint32_t align_up(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

/* The core's own addresses as the host hooks take them: 32 bits in wasm, a native pointer
   in the sanitizer build. */
static inline uintptr_t core_addr(const void *p) { return (uintptr_t)p; }

#endif
