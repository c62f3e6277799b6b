#include "base/file_clock.h"
#include "base/hooks.h"

/* Stored by the host's ticker thread as one aligned 8-byte store; read atomically here. */
static uint64_t host_realtime_ns;

uint64_t file_time_now(void) {
    uint64_t ticked = __atomic_load_n(&host_realtime_ns, __ATOMIC_RELAXED);
    return ticked ? ticked : realtime_now();
}

uint64_t *file_clock_word(void) { return &host_realtime_ns; }
