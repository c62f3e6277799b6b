/* wasi.wasm only: the process and thread CPU-time clocks work and advance (wasmtime gives
 * EBADF), and invalid clock ids, whence values, advice values and rights give EINVAL
 * (wasmtime traps). */
#include "wasi_test.h"
#include "wasi_raw.h"

static volatile uint64_t sink;

static void burn_a_little(void) {
    uint64_t x = 1;
    for (int i = 0; i < 2000000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    sink = x;
}

/* Busy work until `clock` moves past `start` (at most 5 s of wall time): a host whose CPU
 * accounting is tick-based (getrusage per thread on Linux) may not see a short burst. */
static void burn_until_advanced(__wasi_clockid_t clock, __wasi_timestamp_t start) {
    uint64_t deadline = now_ns(__WASI_CLOCKID_MONOTONIC) + 5000000000ULL;
    __wasi_timestamp_t t = start;
    do {
        burn_a_little();
        (void)__wasi_clock_time_get(clock, 1, &t);
    } while (t <= start && now_ns(__WASI_CLOCKID_MONOTONIC) < deadline);

}

int main(void) {
    __wasi_timestamp_t res = 0, a = 0, b = 0;
    SECTION("CPU clocks");
    EXPECT_OK("clock_res_get process", __wasi_clock_res_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &res));
    EXPECT_TRUE("process resolution in (0, 1s]", res > 0 && res <= 1000000000ULL);
    EXPECT_OK("clock_res_get thread", __wasi_clock_res_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, &res));
    EXPECT_TRUE("thread resolution in (0, 1s]", res > 0 && res <= 1000000000ULL);
    EXPECT_OK("clock_time_get process", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &a));
    uint64_t m0 = now_ns(__WASI_CLOCKID_MONOTONIC);
    burn_until_advanced(__WASI_CLOCKID_PROCESS_CPUTIME_ID, a);
    uint64_t m1 = now_ns(__WASI_CLOCKID_MONOTONIC);
    EXPECT_OK("clock_time_get process after work", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &b));
    EXPECT_TRUE("process CPU time advanced", b > a);
    EXPECT_TRUE("process CPU time advanced by at most wall time + 1s", b - a <= (m1 - m0) + 1000000000ULL);
    EXPECT_OK("clock_time_get thread", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &a));
    burn_until_advanced(__WASI_CLOCKID_THREAD_CPUTIME_ID, a);
    EXPECT_OK("clock_time_get thread after work", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &b));
    EXPECT_TRUE("thread CPU time advanced", b > a);
    int monotone = 1;
    __wasi_timestamp_t prev = b;
    for (int i = 0; i < 100; i++) {
        __wasi_timestamp_t t = 0;
        (void)__wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 0, &t);
        monotone &= t >= prev;
        prev = t;
    }
    EXPECT_TRUE("process CPU clock never goes back", monotone);

    SECTION("invalid values");
    __wasi_timestamp_t t;
    EXPECT_ERRNO("clock_res_get id 4", raw_clock_res_get(4, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("clock_res_get id 0x7fffffff", raw_clock_res_get(0x7fffffff, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("clock_time_get id 4", raw_clock_time_get(4, 1, P(&t)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("clock_time_get id -1", raw_clock_time_get(-1, 1, P(&t)), __WASI_ERRNO_INVAL);
    make_file("f", "abc");
    __wasi_fd_t fd;
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));
    __wasi_filesize_t pos = 99;
    EXPECT_ERRNO("fd_seek whence 3", raw_fd_seek((i32)fd, 0, 3, P(&pos)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("fd_seek whence 255", raw_fd_seek((i32)fd, 0, 255, P(&pos)), __WASI_ERRNO_INVAL);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset unchanged", pos, 0);
    EXPECT_ERRNO("fd_advise advice 6", raw_fd_advise((i32)fd, 0, 1, 6), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("path_open rights bit 30", raw_path_open(SANDBOX_FD, 0, P("f"), 1, 0, (i64)(1ULL << 30), 0, 0, P(&fd)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("path_open inheriting bit 63", raw_path_open(SANDBOX_FD, 0, P("f"), 1, 0, (i64)__WASI_RIGHTS_FD_READ, (i64)(1ULL << 63), 0, P(&fd)), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("fd_fdstat_set_rights bit 40", raw_fd_fdstat_set_rights(SANDBOX_FD, (i64)(1ULL << 40), 0), __WASI_ERRNO_INVAL);
    EXPECT_OK("preopen still usable", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));
    return done();
}
