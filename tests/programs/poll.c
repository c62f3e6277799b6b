/* poll_oneoff: relative and absolute clock subscriptions that really sleep, several
 * clocks, fd_read / fd_write subscriptions reported ready, errors; sched_yield; libc
 * sleeping functions built on poll_oneoff. */
#include <poll.h>
#include <time.h>
#include "wasi_test.h"

#define MS 1000000ULL
#define CLOCK_SUB __WASI_EVENTTYPE_CLOCK

static __wasi_subscription_t clock_sub(uint64_t ud, __wasi_clockid_t id, uint64_t timeout, int abs) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.flags = abs ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
    return s;
}

static __wasi_subscription_t fd_sub(uint64_t ud, __wasi_eventtype_t type, __wasi_fd_t fd) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = type;
    s.u.u.fd_read.file_descriptor = fd;
    return s;
}

static __wasi_event_t ev[8];
static uint64_t elapsed;

static __wasi_errno_t poll_n(__wasi_subscription_t *s, size_t k, __wasi_size_t *n) {
    memset(ev, 0x55, sizeof ev);
    *n = 0xdead;
    uint64_t t0 = now_ns(__WASI_CLOCKID_MONOTONIC);
    __wasi_errno_t e = __wasi_poll_oneoff(s, ev, k, n);
    elapsed = now_ns(__WASI_CLOCKID_MONOTONIC) - t0;
    return e;
}

static void check_event(const char *label, int i, uint64_t ud, __wasi_eventtype_t type) {
    printf("%s: userdata %llu type %d error %s", label, (unsigned long long)ev[i].userdata,
           ev[i].type, errname(ev[i].error));
    if (ev[i].userdata != ud || ev[i].type != type || ev[i].error != 0) wt_mismatch("other event");
    printf("\n");
}

int main(void) {
    __wasi_subscription_t s[4];
    __wasi_size_t n;

    SECTION("clocks");
    s[0] = clock_sub(7, __WASI_CLOCKID_MONOTONIC, 30 * MS, 0);
    EXPECT_OK("relative 30ms monotonic", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 7, CLOCK_SUB);
    EXPECT_TRUE("slept >= 30ms", elapsed >= 30 * MS);
    EXPECT_TRUE("slept < 5s", elapsed < 5000 * MS);
    s[0] = clock_sub(8, __WASI_CLOCKID_MONOTONIC, now_ns(__WASI_CLOCKID_MONOTONIC) + 30 * MS, 1);
    EXPECT_OK("absolute +30ms monotonic", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 8, CLOCK_SUB);
    EXPECT_TRUE("slept >= 25ms", elapsed >= 25 * MS);
    s[0] = clock_sub(9, __WASI_CLOCKID_MONOTONIC, now_ns(__WASI_CLOCKID_MONOTONIC) - 30 * MS, 1);
    EXPECT_OK("absolute in the past", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    EXPECT_TRUE("returned at once (< 1s)", elapsed < 1000 * MS);
    s[0] = clock_sub(10, __WASI_CLOCKID_REALTIME, 30 * MS, 0);
    EXPECT_OK("relative 30ms realtime", poll_n(s, 1, &n));
    EXPECT_TRUE("slept >= 25ms", elapsed >= 25 * MS);
    s[0] = clock_sub(11, __WASI_CLOCKID_REALTIME, now_ns(__WASI_CLOCKID_REALTIME) + 30 * MS, 1);
    EXPECT_OK("absolute +30ms realtime", poll_n(s, 1, &n));
    check_event("event", 0, 11, CLOCK_SUB);
    EXPECT_TRUE("slept >= 20ms", elapsed >= 20 * MS);
    s[0] = clock_sub(12, __WASI_CLOCKID_MONOTONIC, 0, 0);
    EXPECT_OK("relative 0", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    s[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 20 * MS, 0);
    s[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, 5000 * MS, 0);
    EXPECT_OK("20ms and 5s clocks", poll_n(s, 2, &n));
    EXPECT_U64("events", n, 1);
    check_event("first to fire", 0, 1, CLOCK_SUB);
    EXPECT_TRUE("did not wait for the 5s clock", elapsed < 4000 * MS);
    uint64_t deadline = now_ns(__WASI_CLOCKID_MONOTONIC) + 20 * MS;
    s[0] = clock_sub(3, __WASI_CLOCKID_MONOTONIC, deadline, 1);
    s[1] = clock_sub(4, __WASI_CLOCKID_MONOTONIC, deadline, 1);
    EXPECT_OK("two clocks with one deadline", poll_n(s, 2, &n));
    EXPECT_U64("events", n, 2);
    EXPECT_TRUE("both userdata reported", (ev[0].userdata == 3 && ev[1].userdata == 4) ||
                                              (ev[0].userdata == 4 && ev[1].userdata == 3));

    SECTION("fds");
    make_file("x", "12345");
    __wasi_fd_t fd;
    EXPECT_OK("open file", open_at(SANDBOX_FD, "x", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, RIGHTS_RW, 0, &fd));
    s[0] = fd_sub(20, __WASI_EVENTTYPE_FD_READ, fd);
    EXPECT_OK("fd_read on a file", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 20, __WASI_EVENTTYPE_FD_READ);
    EXPECT_TRUE("nbytes >= 1", ev[0].fd_readwrite.nbytes >= 1);
    s[0] = fd_sub(21, __WASI_EVENTTYPE_FD_WRITE, fd);
    EXPECT_OK("fd_write on a file", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 21, __WASI_EVENTTYPE_FD_WRITE);
    s[0] = fd_sub(22, __WASI_EVENTTYPE_FD_READ, fd);
    s[1] = fd_sub(23, __WASI_EVENTTYPE_FD_WRITE, fd);
    s[2] = clock_sub(24, __WASI_CLOCKID_MONOTONIC, 3000 * MS, 0);
    EXPECT_OK("read + write + 3s clock", poll_n(s, 3, &n));
    /* wasmtime may return as soon as one fd is ready: 1 or 2 events, never the clock's */
    EXPECT_TRUE("1 or 2 events", n == 1 || n == 2);
    EXPECT_TRUE("only fd events", n >= 1 && n <= 2 && (ev[0].userdata == 22 || ev[0].userdata == 23) &&
                                      (n == 1 || ev[1].userdata == 22 || ev[1].userdata == 23));
    EXPECT_TRUE("returned at once (< 2s)", elapsed < 2000 * MS);
    s[0] = fd_sub(25, __WASI_EVENTTYPE_FD_READ, 0);
    EXPECT_OK("fd_read on stdin", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 25, __WASI_EVENTTYPE_FD_READ);
    s[0] = fd_sub(26, __WASI_EVENTTYPE_FD_WRITE, 1);
    EXPECT_OK("fd_write on stdout", poll_n(s, 1, &n));
    EXPECT_U64("events", n, 1);
    check_event("event", 0, 26, __WASI_EVENTTYPE_FD_WRITE);

    SECTION("errors");
    EXPECT_ERRNO("no subscriptions", poll_n(s, 0, &n), __WASI_ERRNO_INVAL);
    s[0] = fd_sub(30, __WASI_EVENTTYPE_FD_READ, 99);
    EXPECT_ERRNO("fd_read on a bad fd", poll_n(s, 1, &n), __WASI_ERRNO_BADF);
    s[1] = clock_sub(31, __WASI_CLOCKID_MONOTONIC, 10 * MS, 0);
    EXPECT_ERRNO("bad fd + clock", poll_n(s, 2, &n), __WASI_ERRNO_BADF);
    s[0] = fd_sub(32, __WASI_EVENTTYPE_FD_READ, SANDBOX_FD);
    EXPECT_ERRNO("fd_read on a directory", poll_n(s, 1, &n), __WASI_ERRNO_BADF);
    s[0] = fd_sub(33, __WASI_EVENTTYPE_FD_WRITE, 0);
    EXPECT_ERRNO("fd_write on stdin", poll_n(s, 1, &n), __WASI_ERRNO_BADF);
    s[0] = fd_sub(34, __WASI_EVENTTYPE_FD_READ, 1);
    EXPECT_ERRNO("fd_read on stdout", poll_n(s, 1, &n), __WASI_ERRNO_BADF);

    SECTION("libc");
    uint64_t t0 = now_ns(__WASI_CLOCKID_MONOTONIC);
    EXPECT_LIBC("nanosleep 20ms", nanosleep(&(struct timespec){0, 20 * MS}, NULL), 0);
    EXPECT_TRUE("slept >= 20ms", now_ns(__WASI_CLOCKID_MONOTONIC) - t0 >= 20 * MS);
    t0 = now_ns(__WASI_CLOCKID_MONOTONIC);
    EXPECT_LIBC("usleep 20000", usleep(20000), 0);
    EXPECT_TRUE("slept >= 20ms", now_ns(__WASI_CLOCKID_MONOTONIC) - t0 >= 20 * MS);
    struct pollfd pfd[2] = {{.fd = (int)fd, .events = POLLIN}, {.fd = 1, .events = POLLOUT}};
    EXPECT_U64("poll() file POLLIN", poll(pfd, 1, 1000), 1);
    EXPECT_TRUE("file POLLIN", pfd[0].revents & POLLIN);
    EXPECT_U64("poll() stdout POLLOUT", poll(pfd + 1, 1, 1000), 1);
    EXPECT_TRUE("stdout POLLOUT", pfd[1].revents & POLLOUT);
    t0 = now_ns(__WASI_CLOCKID_MONOTONIC);
    EXPECT_LIBC("poll() with no fds, 20ms", poll(NULL, 0, 20), 0);
    EXPECT_TRUE("slept >= 20ms", now_ns(__WASI_CLOCKID_MONOTONIC) - t0 >= 20 * MS);
    for (int i = 0; i < 5; i++) EXPECT_OK("sched_yield", __wasi_sched_yield());
    (void)__wasi_fd_close(fd);
    return done();
}
