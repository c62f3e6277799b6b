/* Waits that a host can interrupt. A program blocked on a pipe or asleep in poll_oneoff
   wakes at least every PLATFORM_WAIT_SLICE_NS and goes round its loop again. A host stops a
   program by making its next loop header trap (wasmtime's epoch deadline), so a timeout or
   a Ctrl-C stops a waiting program within one slice instead of when its wait would end.
   100 idle wake-ups a second cost nothing measurable. */
#ifndef BASE_WAIT_H
#define BASE_WAIT_H

#include "base/core.h"

/* Sleeps while *word == expected, for at most timeout_ns (and one slice). */
static inline void wait_interruptibly(int *word, int expected, uint64_t timeout_ns) {
    platform_wait32(word, expected,
                    timeout_ns < (uint64_t)PLATFORM_WAIT_SLICE_NS ? (int64_t)timeout_ns : PLATFORM_WAIT_SLICE_NS);
}

#endif
