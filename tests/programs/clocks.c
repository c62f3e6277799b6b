/* clock_res_get, clock_time_get (realtime, monotonic), sched_yield; libc time APIs.
 * The process/thread CPU clocks and invalid clock ids are not here: wasmtime gives EBADF /
 * traps for them (see wasi_only_clocks.c). */
#include <time.h>
#include "wasi_test.h"

int main(void) {
    SECTION("resolution");
    __wasi_timestamp_t res = 0;
    EXPECT_OK("clock_res_get realtime", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res));
    EXPECT_TRUE("realtime resolution in (0, 1s]", res > 0 && res <= 1000000000ULL);
    EXPECT_OK("clock_res_get monotonic", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res));
    EXPECT_TRUE("monotonic resolution in (0, 1s]", res > 0 && res <= 1000000000ULL);

    SECTION("realtime");
    __wasi_timestamp_t t = 0;
    EXPECT_OK("clock_time_get realtime", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t));
    /* 2020-01-01 < now < 2200-01-01, in nanoseconds */
    EXPECT_TRUE("realtime is a plausible date", t > 1577836800ULL * 1000000000ULL &&
                                                    t < 7258118400ULL * 1000000000ULL);
    EXPECT_OK("clock_time_get realtime precision 0", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 0, &t));
    EXPECT_OK("clock_time_get realtime huge precision",
              __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, UINT64_MAX, &t));
    struct timespec ts;
    EXPECT_LIBC("libc clock_gettime(CLOCK_REALTIME)", clock_gettime(CLOCK_REALTIME, &ts), 0);
    uint64_t libc_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    EXPECT_TRUE("libc realtime within 60 s of raw", libc_ns + 60000000000ULL > t && libc_ns < t + 60000000000ULL);
    time_t secs = time(NULL);
    EXPECT_TRUE("time() agrees with clock", (uint64_t)secs + 60 > t / 1000000000ULL &&
                                               (uint64_t)secs < t / 1000000000ULL + 60);

    SECTION("monotonic");
    __wasi_timestamp_t m1 = 0, m2 = 0, m3 = 0;
    EXPECT_OK("clock_time_get monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m1));
    EXPECT_OK("sched_yield", __wasi_sched_yield());
    EXPECT_OK("clock_time_get monotonic again", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m2));
    EXPECT_TRUE("monotonic never goes back", m2 >= m1);
    sleep_ns(20 * 1000000ULL);
    EXPECT_OK("clock_time_get after 20ms sleep", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m3));
    EXPECT_TRUE("monotonic advanced by >= 20ms", m3 - m2 >= 20 * 1000000ULL);
    EXPECT_TRUE("monotonic advanced by < 10s", m3 - m2 < 10000000000ULL);
    int increasing = 1;
    __wasi_timestamp_t prev = m3;
    for (int i = 0; i < 1000; i++) {
        __wasi_timestamp_t x = 0;
        (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &x);
        increasing &= x >= prev;
        prev = x;
    }
    EXPECT_TRUE("1000 monotonic reads are non-decreasing", increasing);
    EXPECT_LIBC("libc clock_gettime(CLOCK_MONOTONIC)", clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    EXPECT_LIBC("libc clock_getres(CLOCK_MONOTONIC)", clock_getres(CLOCK_MONOTONIC, &ts), 0);
    EXPECT_LIBC("libc nanosleep 1ms", nanosleep(&(struct timespec){0, 1000000}, NULL), 0);
    for (int i = 0; i < 3; i++) EXPECT_OK("sched_yield repeated", __wasi_sched_yield());
    return done();
}
