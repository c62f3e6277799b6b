/* wasi.wasm only: ctim is the last status-change time (wasmtime reports the creation time,
 * which never moves): writes, truncation, links, renames and set_times move it forward;
 * reads and stats do not. */
#include "wasi_test.h"

#define MS 1000000ULL
#define T1 1000000000123456789ULL

static __wasi_timestamp_t ctim_of(__wasi_fd_t fd) {
    __wasi_filestat_t st;
    memset(&st, 0, sizeof st);
    (void)__wasi_fd_filestat_get(fd, &st);
    return st.ctim;
}

int main(void) {
    __wasi_fd_t fd;
    size_t n;
    char buf[16];
    make_file("f", "abc");
    EXPECT_OK("open", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));
    __wasi_timestamp_t c0 = ctim_of(fd), c1;
#define STEP(label, call)                                    \
    do {                                                     \
        sleep_ns(20 * MS);                                   \
        EXPECT_OK(label, call);                              \
        c1 = ctim_of(fd);                                    \
        EXPECT_TRUE(label " advanced ctim", c1 > c0);        \
        c0 = c1;                                             \
    } while (0)
#define STILL(label, call)                                   \
    do {                                                     \
        sleep_ns(20 * MS);                                   \
        EXPECT_OK(label, call);                              \
        EXPECT_TRUE(label " left ctim", ctim_of(fd) == c0);  \
    } while (0)
    STEP("write", write_all(fd, "d", 1, &n));
    STEP("set_size", __wasi_fd_filestat_set_size(fd, 10));
    STEP("link", __wasi_path_link(SANDBOX_FD, 0, "f", SANDBOX_FD, "g"));
    STEP("unlink of the other name", __wasi_path_unlink_file(SANDBOX_FD, "g"));
    STEP("rename", __wasi_path_rename(SANDBOX_FD, "f", SANDBOX_FD, "h"));
    STEP("set_times", __wasi_fd_filestat_set_times(fd, T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    STILL("pread", __wasi_fd_pread(fd, &(__wasi_iovec_t){(uint8_t *)buf, sizeof buf}, 1, 0, &(__wasi_size_t){0}));
    STILL("stat", __wasi_path_filestat_get(SANDBOX_FD, 0, "h", &(__wasi_filestat_t){0}));
    __wasi_filestat_t st;
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("ctim is not older than mtim", st.ctim >= st.mtim);
    EXPECT_TRUE("mtim == T1 after set_times", st.mtim == T1);
    STEP("set_size 0", __wasi_fd_filestat_set_size(fd, 0));
    /* O_TRUNC of a file empty already changes its status too (POSIX open, as Linux does):
       while fd holds it (in wasi.wasm, under the lock exclusive)... */
    __wasi_fd_t t;
    STEP("O_TRUNC of the empty file", open_at(SANDBOX_FD, "h", 0, __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &t));
    (void)__wasi_fd_close(t);
    (void)__wasi_fd_close(fd);
    /* ...and when no fd does (under the lock shared). */
    EXPECT_OK("reopen", open_at(SANDBOX_FD, "h", 0, __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &t));
    c0 = ctim_of(t);
    (void)__wasi_fd_close(t);
    sleep_ns(20 * MS);
    EXPECT_OK("O_TRUNC with no other fd", open_at(SANDBOX_FD, "h", 0, __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &t));
    EXPECT_TRUE("O_TRUNC of the empty file with no other fd advanced ctim", ctim_of(t) > c0);
    (void)__wasi_fd_close(t);
    return done();
}
