/* Overflow-checked arithmetic for offsets, lengths and sizes: every sum or product that a
   guest or host can steer goes through one of these, so a wrap-around is an error, never a
   small number. */
#ifndef BASE_CHECKED_H
#define BASE_CHECKED_H

#include "base/core.h"

/* false on overflow; *out is then unspecified */
static inline bool checked_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool checked_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool checked_add_u32(uint32_t a, uint32_t b, uint32_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool checked_mul_u32(uint32_t a, uint32_t b, uint32_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* The byte size of count elements of size each, if it fits an allocation request. */
static inline bool checked_array_bytes(uint32_t count, size_t size, uint32_t *out) {
    return size <= UINT32_MAX && checked_mul_u32(count, (uint32_t)size, out);
}

/* POSIX offsets are signed 64-bit: a position at or past 2^63, or a range that ends past
   it, is EINVAL on Linux (rw_verify_area), and so in wasmtime. */
static inline bool offset_range_valid(uint64_t offset, uint64_t len) {
    uint64_t end;
    return checked_add_u64(offset, len, &end) && end <= (uint64_t)INT64_MAX;
}

#endif
