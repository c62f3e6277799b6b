/* Shared helpers for the WASI conformance programs.
 *
 * Every check prints one labelled, deterministic line ("label: ENOENT", "label: OK",
 * "label: yes", "label: 42") and compares it with the value the program expects (the
 * WASI spec's errno, checked against wasmtime's WASI on Linux).  A mismatch adds
 * " MISMATCH (expected X)" to the line and makes `done()` exit with status 1, so a
 * program is self-checking on its own and the differential harness additionally
 * requires identical output under every runtime.
 *
 * Never print raw inode numbers, device ids or times: print relations instead.
 */
#ifndef WASI_TEST_H
#define WASI_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_raw.h"
#include <unistd.h>
#include <wasi/api.h>

#define WT_FN static __attribute__((unused))

static int wt_failures __attribute__((unused));

static const char *const wt_errno_names[] = {
    "OK", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN",
    "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD", "ECONNABORTED",
    "ECONNREFUSED", "ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST",
    "EFAULT", "EFBIG", "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL",
    "EIO", "EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP",
    "ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV",
    "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC",
    "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP",
    "ENOTTY", "ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO",
    "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE",
    "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
};

/* wasi-libc's errno values are the WASI errno values, so one table serves both. */
WT_FN const char *errname(int e) {
    static char buf[24];
    if (e >= 0 && e < (int)(sizeof wt_errno_names / sizeof *wt_errno_names))
        return wt_errno_names[e];
    snprintf(buf, sizeof buf, "E?%d", e);
    return buf;
}

WT_FN void wt_mismatch(const char *expected) {
    printf(" MISMATCH (expected %s)", expected);
    wt_failures++;
}

/* A raw __wasi_* call: print its errno name, compare with the expected errno. */
WT_FN __wasi_errno_t wt_check_errno(const char *label, __wasi_errno_t got, int want) {
    printf("%s: %s", label, errname(got));
    if ((int)got != want) wt_mismatch(errname(want));
    printf("\n");
    return got;
}
#define EXPECT_ERRNO(label, call, want) wt_check_errno((label), (call), (want))
#define EXPECT_OK(label, call) wt_check_errno((label), (call), 0)

/* A libc call returning <0 (or NULL via EXPECT_LIBC_PTR) on error with errno set. */
WT_FN long wt_check_libc(const char *label, long ret, int err, int want) {
    int got = ret < 0 ? err : 0;
    printf("%s: %s", label, errname(got));
    if (got != want) wt_mismatch(errname(want));
    printf("\n");
    return ret;
}
#define EXPECT_LIBC(label, expr, want) \
    (errno = 0, wt_check_libc((label), (long)(expr), errno, (want)))

/* A boolean relation. */
WT_FN int wt_check_true(const char *label, int cond, int want) {
    printf("%s: %s", label, cond ? "yes" : "no");
    if (!cond != !want) wt_mismatch(want ? "yes" : "no");
    printf("\n");
    return cond;
}
#define EXPECT_TRUE(label, cond) wt_check_true((label), !!(cond), 1)
#define EXPECT_FALSE(label, cond) wt_check_true((label), !!(cond), 0)

/* A number (size, count, offset...). */
WT_FN uint64_t wt_check_u64(const char *label, uint64_t got, uint64_t want) {
    printf("%s: %llu", label, (unsigned long long)got);
    if (got != want) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)want);
        wt_mismatch(buf);
    }
    printf("\n");
    return got;
}
#define EXPECT_U64(label, got, want) wt_check_u64((label), (uint64_t)(got), (uint64_t)(want))

/* Bytes shown as a C-like escaped string. */
WT_FN void wt_print_bytes(const void *data, size_t len) {
    const unsigned char *p = data;
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\') printf("\\%c", p[i]);
        else if (p[i] >= 32 && p[i] < 127) putchar(p[i]);
        else printf("\\x%02x", p[i]);
    }
    putchar('"');
}
WT_FN void wt_check_bytes(const char *label, const void *got, size_t got_len, const void *want,
                           size_t want_len) {
    printf("%s: ", label);
    wt_print_bytes(got, got_len);
    if (got_len != want_len || memcmp(got, want, got_len) != 0) {
        printf(" MISMATCH (expected ");
        wt_print_bytes(want, want_len);
        printf(")");
        wt_failures++;
    }
    printf("\n");
}
#define EXPECT_BYTES(label, got, got_len, want, want_len) \
    wt_check_bytes((label), (got), (got_len), (want), (want_len))
#define EXPECT_STR(label, got, got_len, want) \
    wt_check_bytes((label), (got), (got_len), (want), strlen(want))

/* Print a section header; purely informational. */
#define SECTION(name) printf("== %s\n", (name))

/* End of program: summary line and exit status 0 (all expectations met) or 1. */
WT_FN int done(void) {
    printf("failures: %d\n", wt_failures);
    fflush(stdout);
    return wt_failures ? 1 : 0;
}

/* ---- small WASI helpers ---- */

#define SANDBOX_FD 3 /* the single preopen, guest path /sandbox */

#define RIGHTS_ALL ((__wasi_rights_t)RAW_RIGHTS_ALL) /* every right preview 1 defines */
#define RIGHTS_RW (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | \
                   __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET |                  \
                   __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES |  \
                   __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS | __WASI_RIGHTS_FD_SYNC |                \
                   __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_ADVISE |                     \
                   __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_POLL_FD_READWRITE)

/* Rights for opening a directory: wasmtime opens the host file for writing when any of
 * FD_WRITE, FD_DATASYNC, FD_ALLOCATE or FD_FILESTAT_SET_SIZE is requested, which a
 * directory refuses with EISDIR (as open(dir, O_RDWR) does on Linux). */
#define RIGHTS_DIR (RIGHTS_ALL & ~(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC | \
                                   __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE))

/* path_open relative to the sandbox preopen; returns errno, fd in *out (or -1). */
WT_FN __wasi_errno_t open_at(__wasi_fd_t dir, const char *path, __wasi_lookupflags_t lookup,
                              __wasi_oflags_t oflags, __wasi_rights_t rights,
                              __wasi_fdflags_t fdflags, __wasi_fd_t *out) {
    __wasi_fd_t fd = (__wasi_fd_t)-1;
    __wasi_errno_t e = __wasi_path_open(dir, lookup, path, oflags, rights, RIGHTS_ALL, fdflags, &fd);
    if (out) *out = e ? (__wasi_fd_t)-1 : fd;
    return e;
}

/* Write a whole buffer with one fd_write; returns errno, count in *n. */
WT_FN __wasi_errno_t write_all(__wasi_fd_t fd, const void *data, size_t len, size_t *n) {
    __wasi_ciovec_t iov = {.buf = data, .buf_len = len};
    __wasi_size_t got = 0;
    __wasi_errno_t e = __wasi_fd_write(fd, &iov, 1, &got);
    if (n) *n = got;
    return e;
}

WT_FN __wasi_errno_t read_some(__wasi_fd_t fd, void *data, size_t len, size_t *n) {
    __wasi_iovec_t iov = {.buf = data, .buf_len = len};
    __wasi_size_t got = 0;
    __wasi_errno_t e = __wasi_fd_read(fd, &iov, 1, &got);
    if (n) *n = got;
    return e;
}

/* Create (truncate) a file under the sandbox with the given contents; aborts on failure. */
WT_FN void make_file(const char *path, const char *contents) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(SANDBOX_FD, path, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                               RIGHTS_RW, 0, &fd);
    if (e) {
        printf("setup: create %s failed: %s\n", path, errname(e));
        exit(2);
    }
    size_t n;
    if (contents && *contents && (write_all(fd, contents, strlen(contents), &n) || n != strlen(contents))) {
        printf("setup: write %s failed\n", path);
        exit(2);
    }
    (void)__wasi_fd_close(fd);
}

WT_FN void make_dir(const char *path) {
    __wasi_errno_t e = __wasi_path_create_directory(SANDBOX_FD, path);
    if (e) {
        printf("setup: mkdir %s failed: %s\n", path, errname(e));
        exit(2);
    }
}

/* Read a whole file (up to cap bytes) under the sandbox; returns length or -errno. */
WT_FN long slurp(const char *path, char *buf, size_t cap) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(SANDBOX_FD, path, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0,
                               __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0, &fd);
    if (e) return -(long)e;
    size_t total = 0, n = 0;
    do {
        e = read_some(fd, buf + total, cap - total, &n);
        if (e) {
            (void)__wasi_fd_close(fd);
            return -(long)e;
        }
        total += n;
    } while (n && total < cap);
    (void)__wasi_fd_close(fd);
    return (long)total;
}

WT_FN __wasi_filestat_t stat_path(const char *path, int follow) {
    __wasi_filestat_t st;
    memset(&st, 0, sizeof st);
    __wasi_errno_t e = __wasi_path_filestat_get(
        SANDBOX_FD, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, &st);
    if (e) {
        printf("setup: stat %s failed: %s\n", path, errname(e));
        exit(2);
    }
    return st;
}

WT_FN const char *filetype_name(__wasi_filetype_t t) {
    switch (t) {
    case __WASI_FILETYPE_UNKNOWN: return "unknown";
    case __WASI_FILETYPE_BLOCK_DEVICE: return "block_device";
    case __WASI_FILETYPE_CHARACTER_DEVICE: return "character_device";
    case __WASI_FILETYPE_DIRECTORY: return "directory";
    case __WASI_FILETYPE_REGULAR_FILE: return "regular_file";
    case __WASI_FILETYPE_SOCKET_DGRAM: return "socket_dgram";
    case __WASI_FILETYPE_SOCKET_STREAM: return "socket_stream";
    case __WASI_FILETYPE_SYMBOLIC_LINK: return "symbolic_link";
    default: return "invalid";
    }
}
WT_FN void wt_check_type(const char *label, __wasi_filetype_t got, __wasi_filetype_t want) {
    printf("%s: %s", label, filetype_name(got));
    if (got != want) wt_mismatch(filetype_name(want));
    printf("\n");
}
#define EXPECT_TYPE(label, got, want) wt_check_type((label), (got), (want))

/* Sleep with a relative monotonic clock subscription (poll_oneoff). */
WT_FN void sleep_ns(uint64_t ns) {
    __wasi_subscription_t sub;
    memset(&sub, 0, sizeof sub);
    sub.userdata = 1;
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    sub.u.u.clock.timeout = ns;
    __wasi_event_t ev;
    __wasi_size_t n;
    (void)__wasi_poll_oneoff(&sub, &ev, 1, &n);
}

WT_FN uint64_t now_ns(__wasi_clockid_t id) {
    __wasi_timestamp_t t = 0;
    (void)__wasi_clock_time_get(id, 1, &t);
    return t;
}

/* proc_raise is not declared by wasi-libc's api.h any more. */
__wasi_errno_t wt_proc_raise(uint32_t sig)
    __attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__("proc_raise")));

#endif
