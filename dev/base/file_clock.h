/* The clock of file times. A kernel stamps files from a coarse clock (Linux: the time of the
   last tick, 1-4 ms old); a host that keeps a word of shared memory at the realtime clock
   (its own thread stores the time every millisecond: the Python host while programs run)
   lets every write, create and unlink read that word instead of calling the clock hook,
   which costs more than the write itself in wasmtime-py and does not scale with threads
   (docs/HOST_NOTES.md). While the word is 0 (no host keeps it), stamps call the hook. A stamp
   may then be up to one of the host's ticks older than a realtime read just before it, as
   on Linux. */
#ifndef BASE_FILE_CLOCK_H
#define BASE_FILE_CLOCK_H

#include "base/core.h"
#include "base/hooks.h"

/* Stored by the host's ticker thread as one aligned 8-byte store; read atomically. Inline:
   a call from wasm costs more than the load (bench/ops.py --instructions). */
extern struct file_clock {
    uint64_t ns;
} file_clock;
static inline uint64_t file_time_now(void) {
    uint64_t ticked = __atomic_load_n(&file_clock.ns, __ATOMIC_RELAXED);
    return ticked ? ticked : realtime_now();
}
/* The word a host keeps at the realtime clock in ns (0: it does not), for its export. */
uint64_t *file_clock_word(void);

#endif
