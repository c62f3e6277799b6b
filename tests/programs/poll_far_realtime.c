/* poll_oneoff with an absolute realtime deadline at the end of the clock's range, beside a
 * 20 ms monotonic one: only the monotonic one may fire. The core turns a realtime deadline
 * into a monotonic one (now + how far off it is), which wrapped to a deadline already passed
 * where the host's monotonic clock reads more than its realtime clock
 * (tests/test_clock_ranges.py). Prints the events' userdata. */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

int main(void) {
    __wasi_subscription_t s[2];
    memset(s, 0, sizeof s);
    s[0].userdata = 1;
    s[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    s[0].u.u.clock.id = __WASI_CLOCKID_REALTIME;
    s[0].u.u.clock.timeout = UINT64_MAX;
    s[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
    s[1].userdata = 2;
    s[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    s[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    s[1].u.u.clock.timeout = 20000000;
    __wasi_event_t ev[2];
    __wasi_size_t n = 0;
    __wasi_errno_t err = __wasi_poll_oneoff(s, ev, 2, &n);
    printf("poll: %d, events:", err);
    for (__wasi_size_t i = 0; i < n; i++) printf(" %llu", (unsigned long long)ev[i].userdata);
    printf("\n");
    return 0;
}
