/* fd_filestat_get, path_filestat_get, fd_filestat_set_times, path_filestat_set_times:
 * file types, sizes, dev relations, timestamps kept up to date by writes / truncation /
 * directory changes, explicit times, the NOW flags, follow vs nofollow, and errors.
 * Times are never printed, only relations (host timestamps can lag the clock by a tick, so
 * "close to now" allows 2 s). ctim is only checked near creation (wasmtime keeps it at the
 * creation time; wasi_only_times.c checks status-change updates). */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define MS 1000000ULL
#define T1 1000000000123456789ULL /* 2001-09-09 */
#define T2 1500000000987654321ULL /* 2017-07-14 */

static int near_now(__wasi_timestamp_t t) {
    uint64_t now = now_ns(__WASI_CLOCKID_REALTIME);
    return t + 2000 * MS > now && t < now + 2000 * MS;
}

int main(void) {
    __wasi_filestat_t st, st2;
    __wasi_fd_t fd;
    size_t n;

    SECTION("types and sizes");
    make_file("f", "12345");
    make_dir("d");
    EXPECT_OK("symlink", __wasi_path_symlink("f", SANDBOX_FD, "l"));
    EXPECT_OK("path_filestat_get f", __wasi_path_filestat_get(SANDBOX_FD, 0, "f", &st));
    EXPECT_TYPE("f type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_U64("f size", st.size, 5);
    EXPECT_U64("f nlink", st.nlink, 1);
    __wasi_device_t dev = st.dev;
    EXPECT_OK("path_filestat_get d", __wasi_path_filestat_get(SANDBOX_FD, 0, "d", &st));
    EXPECT_TYPE("d type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_TRUE("same dev as f", st.dev == dev);
    EXPECT_OK("path_filestat_get l", __wasi_path_filestat_get(SANDBOX_FD, 0, "l", &st));
    EXPECT_TYPE("l type", st.filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT_OK("path_filestat_get \".\"", __wasi_path_filestat_get(SANDBOX_FD, 0, ".", &st));
    EXPECT_TYPE("\".\" type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_OK("fd_filestat_get on preopen", __wasi_fd_filestat_get(SANDBOX_FD, &st2));
    EXPECT_TRUE("preopen ino equals \".\" ino", st.ino == st2.ino && st.dev == st2.dev);
    EXPECT_OK("path_filestat_get \"d/..\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/..", &st2));
    EXPECT_TRUE("d/.. ino equals \".\" ino", st.ino == st2.ino);
    EXPECT_TRUE("inos of f, d, l distinct", stat_path("f", 0).ino != stat_path("d", 0).ino &&
                                                 stat_path("f", 0).ino != stat_path("l", 0).ino);

    SECTION("times of a new file");
    uint64_t before = now_ns(__WASI_CLOCKID_REALTIME);
    make_file("new", "x");
    st = stat_path("new", 0);
    EXPECT_TRUE("atim near now", near_now(st.atim));
    EXPECT_TRUE("mtim near now", near_now(st.mtim));
    EXPECT_TRUE("ctim near now", near_now(st.ctim));
    EXPECT_TRUE("mtim not before creation start - 2s", st.mtim + 2000 * MS >= before);

    SECTION("updates");
    __wasi_filestat_t d_before = stat_path("d", 0);
    EXPECT_OK("open", open_at(SANDBOX_FD, "new", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("set times to T1/T1", __wasi_fd_filestat_set_times(fd, T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("atim == T1", st.atim == T1);
    EXPECT_TRUE("mtim == T1", st.mtim == T1);
    EXPECT_OK("write", write_all(fd, "more", 4, &n));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("write moved mtim to now", near_now(st.mtim));
    EXPECT_TRUE("write left atim", st.atim == T1);
    EXPECT_OK("set mtim T1", __wasi_fd_filestat_set_times(fd, 0, T1, __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("set_size", __wasi_fd_filestat_set_size(fd, 100));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("set_size moved mtim to now", near_now(st.mtim));
    EXPECT_OK("set mtim T1", __wasi_fd_filestat_set_times(fd, 0, T1, __WASI_FSTFLAGS_MTIM));
    __wasi_ciovec_t w = {(const uint8_t *)"p", 1};
    __wasi_size_t got;
    EXPECT_OK("pwrite", __wasi_fd_pwrite(fd, &w, 1, 3, &got));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("pwrite moved mtim to now", near_now(st.mtim));
    (void)__wasi_fd_close(fd);
    /* O_TRUNC of an existing file marks its mtime (and ctime) for update even when it is
       empty already (POSIX open; Linux, so wasmtime, does): opened when no fd holds it (in
       wasi.wasm under the lock shared) and when another fd does (exclusive). */
    for (int held = 0; held < 2; held++) {
        for (int empty = 0; empty < 2; empty++) {
            __wasi_fd_t other = (__wasi_fd_t)-1, t;
            make_file("t", empty ? "" : "old bytes");
            EXPECT_OK("set t times T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "t", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
            if (held) EXPECT_OK("open t", open_at(SANDBOX_FD, "t", 0, 0, RIGHTS_RW, 0, &other));
            EXPECT_OK("open t O_TRUNC", open_at(SANDBOX_FD, "t", 0, __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &t));
            static const char *const moved[2][2] = {
                { "O_TRUNC of a file moved mtim", "O_TRUNC of an empty file moved mtim" },
                { "O_TRUNC of a file another fd holds moved mtim",
                  "O_TRUNC of an empty file another fd holds moved mtim" },
            };
            st = stat_path("t", 0);
            EXPECT_U64("size after O_TRUNC", st.size, 0);
            EXPECT_TRUE(moved[held][empty], near_now(st.mtim));
            (void)__wasi_fd_close(t);
            if (held) (void)__wasi_fd_close(other);
        }
    }
    EXPECT_OK("set d times T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "d", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    make_file("d/child", "c");
    st = stat_path("d", 0);
    EXPECT_TRUE("creating an entry moved the dir's mtim", near_now(st.mtim));
    EXPECT_OK("set d times T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "d", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("unlink d/child", __wasi_path_unlink_file(SANDBOX_FD, "d/child"));
    EXPECT_TRUE("removing an entry moved the dir's mtim", near_now(stat_path("d", 0).mtim));
    EXPECT_OK("set d times T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "d", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("mkdir d/sub", __wasi_path_create_directory(SANDBOX_FD, "d/sub"));
    EXPECT_TRUE("mkdir moved the dir's mtim", near_now(stat_path("d", 0).mtim));
    (void)d_before;
    /* mtime really advances with time */
    EXPECT_OK("open", open_at(SANDBOX_FD, "new", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("write", write_all(fd, "a", 1, &n));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    sleep_ns(50 * MS);
    EXPECT_OK("write 50ms later", write_all(fd, "b", 1, &n));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st2));
    EXPECT_TRUE("mtime advanced", st2.mtim > st.mtim);
    EXPECT_TRUE("mtime advanced by less than 10s", st2.mtim - st.mtim < 10000 * MS);
    /* ctim advancing on a status change is checked in wasi_only_times.c: wasmtime's ctim
     * stays at the creation time. */
    __wasi_filestat_t before_link = st2;
    sleep_ns(50 * MS);
    EXPECT_OK("link", __wasi_path_link(SANDBOX_FD, 0, "new", SANDBOX_FD, "new2"));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("link left mtime", st.mtim == before_link.mtim);
    (void)__wasi_fd_close(fd);

    SECTION("NOW flags");
    EXPECT_OK("set f times T1/T2", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", T1, T2, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    st = stat_path("f", 0);
    EXPECT_TRUE("atim == T1", st.atim == T1);
    EXPECT_TRUE("mtim == T2", st.mtim == T2);
    EXPECT_OK("ATIM_NOW only", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", 0, 0, __WASI_FSTFLAGS_ATIM_NOW));
    st = stat_path("f", 0);
    EXPECT_TRUE("atim near now", near_now(st.atim));
    EXPECT_TRUE("mtim still T2", st.mtim == T2);
    EXPECT_OK("MTIM_NOW only", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", T1, 0, __WASI_FSTFLAGS_MTIM_NOW));
    st = stat_path("f", 0);
    EXPECT_TRUE("mtim near now", near_now(st.mtim));
    EXPECT_TRUE("atim not reset to T1", st.atim != T1);
    EXPECT_OK("ATIM + MTIM_NOW", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", T2, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM_NOW));
    st = stat_path("f", 0);
    EXPECT_TRUE("atim == T2", st.atim == T2);
    EXPECT_TRUE("mtim near now", near_now(st.mtim));
    EXPECT_OK("no flags (no change)", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", T1, T1, 0));
    st2 = stat_path("f", 0);
    EXPECT_TRUE("atim unchanged", st2.atim == st.atim);
    EXPECT_TRUE("mtim unchanged", st2.mtim == st.mtim);
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("fd set both NOW", __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("atim near now", near_now(st.atim));
    EXPECT_TRUE("mtim near now", near_now(st.mtim));
    EXPECT_ERRNO("ATIM with ATIM_NOW", __wasi_fd_filestat_set_times(fd, T1, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("MTIM with MTIM_NOW", __wasi_fd_filestat_set_times(fd, 0, T1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("path: ATIM with ATIM_NOW", __wasi_path_filestat_set_times(SANDBOX_FD, F, "f", T1, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_INVAL);
    EXPECT_OK("time 0 is allowed", __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_TRUE("atim == 0 and mtim == 0", st.atim == 0 && st.mtim == 0);
    (void)__wasi_fd_close(fd);

    SECTION("follow vs nofollow");
    EXPECT_OK("set target f to T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "f", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("set via l with follow to T2", __wasi_path_filestat_set_times(SANDBOX_FD, F, "l", T2, T2, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_TRUE("target f got T2", stat_path("f", 0).mtim == T2);
    EXPECT_TRUE("link l itself did not", stat_path("l", 0).mtim != T2);
    EXPECT_OK("set l nofollow to T1", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "l", T1, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_TRUE("link l has T1", stat_path("l", 0).mtim == T1);
    EXPECT_TRUE("target f still T2", stat_path("f", 0).mtim == T2);
    EXPECT_OK("stat l with follow", __wasi_path_filestat_get(SANDBOX_FD, F, "l", &st));
    EXPECT_TRUE("follow stat gives the target's mtim", st.mtim == T2);

    SECTION("directories");
    EXPECT_OK("set dir times", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "d", T2, T1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    st = stat_path("d", 0);
    EXPECT_TRUE("dir atim == T2 and mtim == T1", st.atim == T2 && st.mtim == T1);
    __wasi_fd_t dfd;
    EXPECT_OK("open d", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_OK("fd_filestat_set_times on dir fd", __wasi_fd_filestat_set_times(dfd, T1, T2, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    EXPECT_OK("fd_filestat_get on dir fd", __wasi_fd_filestat_get(dfd, &st));
    EXPECT_TRUE("dir atim == T1 and mtim == T2", st.atim == T1 && st.mtim == T2);
    EXPECT_TRUE("fd and path stat agree", st.ino == stat_path("d", 0).ino);
    (void)__wasi_fd_close(dfd);

    SECTION("errors");
    EXPECT_ERRNO("fd_filestat_get bad fd", __wasi_fd_filestat_get(99, &st), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_filestat_set_times bad fd", __wasi_fd_filestat_set_times(99, 0, 0, __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("path_filestat_get missing", __wasi_path_filestat_get(SANDBOX_FD, 0, "missing", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("path_filestat_get below file", __wasi_path_filestat_get(SANDBOX_FD, 0, "f/x", &st), __WASI_ERRNO_NOTDIR);
    EXPECT_ERRNO("path_filestat_get bad fd", __wasi_path_filestat_get(99, 0, "f", &st), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("path_filestat_get empty path", __wasi_path_filestat_get(SANDBOX_FD, 0, "", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("path_filestat_set_times missing", __wasi_path_filestat_set_times(SANDBOX_FD, 0, "missing", 0, 0, __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("path_filestat_set_times bad fd", __wasi_path_filestat_set_times(99, 0, "f", 0, 0, __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_BADF);
    EXPECT_OK("dangling symlink", __wasi_path_symlink("nowhere", SANDBOX_FD, "dl"));
    EXPECT_ERRNO("path_filestat_set_times dangling follow", __wasi_path_filestat_set_times(SANDBOX_FD, F, "dl", 0, 0, __WASI_FSTFLAGS_ATIM_NOW), __WASI_ERRNO_NOENT);
    EXPECT_OK("fd_filestat_get on stdin", __wasi_fd_filestat_get(0, &st));
    return done();
}
