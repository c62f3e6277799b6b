#include "base/file_clock.h"
#include "base/hooks.h"

/* Stored by the host's ticker thread as one aligned 8-byte store; read atomically here. */
static struct {
    uint64_t ns;
} OWN_CACHE_LINES host_realtime;

uint64_t file_time_now(void) {
    uint64_t ticked = __atomic_load_n(&host_realtime.ns, __ATOMIC_RELAXED);
    return ticked ? ticked : realtime_now();
}

uint64_t *file_clock_word(void) { return &host_realtime.ns; }
