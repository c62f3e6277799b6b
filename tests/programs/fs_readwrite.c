/* fd_read, fd_write, fd_seek, fd_tell, fd_pread, fd_pwrite: offsets, gathered I/O, seeking
 * past the end, sparse extension with zero fill, O_APPEND, and their errors. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

static int all_zero(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int main(void) {
    __wasi_fd_t fd;
    char buf[256];
    size_t n;
    __wasi_filesize_t pos = 0;
    __wasi_filestat_t st;

    SECTION("sequential");
    EXPECT_OK("create", open_at(SANDBOX_FD, "f", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("write 10", write_all(fd, "0123456789", 10, &n));
    EXPECT_U64("wrote", n, 10);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset after write", pos, 10);
    EXPECT_OK("read at end", read_some(fd, buf, sizeof buf, &n));
    EXPECT_U64("bytes at end", n, 0);
    EXPECT_OK("seek SET 2", __wasi_fd_seek(fd, 2, __WASI_WHENCE_SET, &pos));
    EXPECT_U64("new offset", pos, 2);
    EXPECT_OK("read 3", read_some(fd, buf, 3, &n));
    EXPECT_STR("got", buf, n, "234");
    EXPECT_OK("seek CUR +2", __wasi_fd_seek(fd, 2, __WASI_WHENCE_CUR, &pos));
    EXPECT_U64("new offset", pos, 7);
    EXPECT_OK("seek CUR -3", __wasi_fd_seek(fd, -3, __WASI_WHENCE_CUR, &pos));
    EXPECT_U64("new offset", pos, 4);
    EXPECT_OK("seek CUR 0 (tell)", __wasi_fd_seek(fd, 0, __WASI_WHENCE_CUR, &pos));
    EXPECT_U64("offset", pos, 4);
    EXPECT_OK("seek END -1", __wasi_fd_seek(fd, -1, __WASI_WHENCE_END, &pos));
    EXPECT_U64("new offset", pos, 9);
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("last byte", buf, n, "9");
    EXPECT_ERRNO("seek SET -1", __wasi_fd_seek(fd, -1, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("seek CUR before start", __wasi_fd_seek(fd, -100, __WASI_WHENCE_CUR, &pos), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("seek END before start", __wasi_fd_seek(fd, -11, __WASI_WHENCE_END, &pos), __WASI_ERRNO_INVAL);
    EXPECT_OK("fd_tell after failed seeks", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset unchanged", pos, 10);
    EXPECT_OK("overwrite in the middle", __wasi_fd_seek(fd, 3, __WASI_WHENCE_SET, &pos));
    EXPECT_OK("write", write_all(fd, "abc", 3, &n));
    EXPECT_U64("size", (slurp("f", buf, sizeof buf)), 10);
    EXPECT_STR("content", buf, 10, "012abc6789");

    SECTION("gathered and scattered");
    /* wasmtime moves only the first non-empty iovec per call (a short transfer, which
     * POSIX allows); wasi.wasm may move them all. Programs see a prefix either way. */
    EXPECT_OK("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    char a[4], b[1], c[8];
    __wasi_iovec_t iovs[4] = {{(uint8_t *)a, 4}, {(uint8_t *)b, 0}, {(uint8_t *)b, 1}, {(uint8_t *)c, 8}};
    __wasi_size_t got = 0;
    EXPECT_OK("fd_read 4 iovecs", __wasi_fd_read(fd, iovs, 4, &got));
    EXPECT_TRUE("read total in 4..10", got >= 4 && got <= 10);
    {
        char flat[13];
        memcpy(flat, a, 4);
        memcpy(flat + 4, b, 1);
        memcpy(flat + 5, c, 8);
        EXPECT_TRUE("scattered bytes are a prefix of the file", memcmp(flat, "012abc6789", got) == 0);
    }
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_TRUE("offset advanced by the count", pos == got);
    EXPECT_OK("seek 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    __wasi_ciovec_t wiovs[3] = {{(const uint8_t *)"AB", 2}, {(const uint8_t *)"", 0}, {(const uint8_t *)"CD", 2}};
    EXPECT_OK("fd_write 3 iovecs", __wasi_fd_write(fd, wiovs, 3, &got));
    EXPECT_TRUE("written total in 2..4", got >= 2 && got <= 4);
    if (got < 4) EXPECT_OK("write the rest", write_all(fd, &"ABCD"[got], 4 - got, &n));
    else printf("write the rest: OK\n");
    EXPECT_OK("fd_read no iovecs", __wasi_fd_read(fd, iovs, 0, &got));
    EXPECT_U64("read nothing", got, 0);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset", pos, 4);

    SECTION("past the end");
    EXPECT_OK("seek SET 100", __wasi_fd_seek(fd, 100, __WASI_WHENCE_SET, &pos));
    EXPECT_U64("offset", pos, 100);
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size unchanged by seek", st.size, 10);
    EXPECT_OK("read past end", read_some(fd, buf, 10, &n));
    EXPECT_U64("bytes", n, 0);
    EXPECT_OK("seek END +5", __wasi_fd_seek(fd, 5, __WASI_WHENCE_END, &pos));
    EXPECT_U64("offset", pos, 15);
    EXPECT_OK("write at 15", write_all(fd, "Z", 1, &n));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size", st.size, 16);
    long len = slurp("f", buf, sizeof buf);
    EXPECT_U64("file length", len, 16);
    EXPECT_STR("head", buf, 10, "ABCDbc6789");
    EXPECT_TRUE("gap is zero-filled", all_zero(buf + 10, 5));
    EXPECT_STR("tail", buf + 15, 1, "Z");

    SECTION("pread / pwrite");
    EXPECT_OK("seek SET 1", __wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &pos));
    __wasi_iovec_t riov = {(uint8_t *)buf, 3};
    EXPECT_OK("fd_pread at 6", __wasi_fd_pread(fd, &riov, 1, 6, &got));
    EXPECT_STR("pread got", buf, got, "678");
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("pread leaves offset", pos, 1);
    __wasi_ciovec_t wiov = {(const uint8_t *)"xy", 2};
    EXPECT_OK("fd_pwrite at 0", __wasi_fd_pwrite(fd, &wiov, 1, 0, &got));
    EXPECT_U64("pwrite wrote", got, 2);
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("pwrite leaves offset", pos, 1);
    riov.buf_len = 10;
    EXPECT_OK("fd_pread at 100 (past end)", __wasi_fd_pread(fd, &riov, 1, 100, &got));
    EXPECT_U64("pread past end", got, 0);
    EXPECT_OK("fd_pread at 14 (straddling end)", __wasi_fd_pread(fd, &riov, 1, 14, &got));
    EXPECT_U64("pread straddling end", got, 2);
    EXPECT_OK("fd_pwrite at 20 (past end)", __wasi_fd_pwrite(fd, &wiov, 1, 20, &got));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size after pwrite past end", st.size, 22);
    len = slurp("f", buf, sizeof buf);
    EXPECT_STR("content", buf, 4, "xyCD");
    EXPECT_TRUE("zero gap 16..19", all_zero(buf + 16, 4));
    EXPECT_STR("tail", buf + 20, 2, "xy");
    char two[2][3];
    __wasi_iovec_t pri[2] = {{(uint8_t *)two[0], 3}, {(uint8_t *)two[1], 3}};
    EXPECT_OK("fd_pread 2 iovecs at 2", __wasi_fd_pread(fd, pri, 2, 2, &got));
    EXPECT_TRUE("pread total in 3..6", got >= 3 && got <= 6);
    EXPECT_TRUE("pread bytes are a prefix", memcmp(two, "CDbc67", got) == 0);
    __wasi_ciovec_t pwi[2] = {{(const uint8_t *)"PQ", 2}, {(const uint8_t *)"RS", 2}};
    EXPECT_OK("fd_pwrite 2 iovecs at 16", __wasi_fd_pwrite(fd, pwi, 2, 16, &got));
    EXPECT_TRUE("pwrite total in 2..4", got >= 2 && got <= 4);
    len = slurp("f", buf, sizeof buf);
    EXPECT_TRUE("pwrite bytes landed at 16", memcmp(buf + 16, "PQRS", got) == 0);
    EXPECT_OK("close", __wasi_fd_close(fd));

    SECTION("append");
    make_file("log", "start;");
    EXPECT_OK("open APPEND", open_at(SANDBOX_FD, "log", F, 0, RIGHTS_RW, __WASI_FDFLAGS_APPEND, &fd));
    EXPECT_OK("fd_tell right after open", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset", pos, 0);
    EXPECT_OK("seek SET 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    EXPECT_OK("write appends", write_all(fd, "one;", 4, &n));
    EXPECT_OK("fd_tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset is the end", pos, 10);
    EXPECT_OK("read from 0", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    EXPECT_OK("read", read_some(fd, buf, 6, &n));
    EXPECT_STR("read", buf, n, "start;");
    EXPECT_OK("write again", write_all(fd, "two;", 4, &n));
    EXPECT_OK("pwrite at 0 on an append fd", __wasi_fd_pwrite(fd, &wiov, 1, 0, &got));
    len = slurp("log", buf, sizeof buf);
    EXPECT_STR("log content", buf, (size_t)(len > 0 ? len : 0), "start;one;two;xy");
    EXPECT_OK("close", __wasi_fd_close(fd));
    /* two fds on one file: each has its own offset, the data is shared */
    __wasi_fd_t f1, f2;
    EXPECT_OK("open 1", open_at(SANDBOX_FD, "shared", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &f1));
    EXPECT_OK("open 2", open_at(SANDBOX_FD, "shared", F, 0, RIGHTS_RW, 0, &f2));
    EXPECT_OK("write via 1", write_all(f1, "hello", 5, &n));
    EXPECT_OK("read via 2", read_some(f2, buf, sizeof buf, &n));
    EXPECT_STR("seen via 2", buf, n, "hello");
    EXPECT_OK("write via 2 at its offset", write_all(f2, "!!", 2, &n));
    EXPECT_OK("tell 1", __wasi_fd_tell(f1, &pos));
    EXPECT_U64("offset 1", pos, 5);
    EXPECT_OK("read via 1", read_some(f1, buf, sizeof buf, &n));
    EXPECT_STR("seen via 1", buf, n, "!!");
    (void)__wasi_fd_close(f1);
    (void)__wasi_fd_close(f2);

    SECTION("errors");
    EXPECT_ERRNO("fd_read bad fd", read_some(99, buf, 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_write bad fd", write_all(99, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_seek bad fd", __wasi_fd_seek(99, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_tell bad fd", __wasi_fd_tell(99, &pos), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_pread bad fd", __wasi_fd_pread(99, &riov, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_pwrite bad fd", __wasi_fd_pwrite(99, &wiov, 1, 0, &got), __WASI_ERRNO_BADF);
    __wasi_fd_t dfd;
    EXPECT_OK("open dir", open_at(SANDBOX_FD, ".", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dfd));
    EXPECT_ERRNO("fd_read on dir", read_some(dfd, buf, 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_write on dir", write_all(dfd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_pread on dir", __wasi_fd_pread(dfd, &riov, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_pwrite on dir", __wasi_fd_pwrite(dfd, &wiov, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_seek on dir", __wasi_fd_seek(dfd, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_tell on dir", __wasi_fd_tell(dfd, &pos), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_read on preopen", read_some(SANDBOX_FD, buf, 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(dfd);
    EXPECT_ERRNO("fd_seek on stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos), __WASI_ERRNO_SPIPE);
    EXPECT_ERRNO("fd_pread on stdin", __wasi_fd_pread(0, &riov, 1, 0, &got), __WASI_ERRNO_SPIPE);
    EXPECT_ERRNO("fd_pwrite on stdout", __wasi_fd_pwrite(1, &wiov, 1, 0, &got), __WASI_ERRNO_SPIPE);
    return done();
}
