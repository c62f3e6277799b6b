/* Stdio: fd 0 bytes from the host, fds 1/2 raw bytes out (binary, no re-encoding, a last
 * line without newline), gathered writes, reads/writes on the wrong stdio direction.
 * stdout carries the labelled report; the raw-byte checks are echoed to stdout as escaped
 * text and the raw bytes themselves go to stderr, which the harness compares exactly. */
#include "wasi_test.h"

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    SECTION("stdin");
    static char buf[1 << 17];
    size_t total = 0, n = 0;
    __wasi_errno_t e;
    do {
        size_t chunk = sizeof buf - total < 7 ? sizeof buf - total : 7;
        e = read_some(0, buf + total, chunk, &n);
        if (e) break;
        total += n;
    } while (n > 0 && total < sizeof buf);
    EXPECT_OK("stdin reads end without error", e);
    printf("stdin bytes: %zu\nstdin content: ", total);
    wt_print_bytes(buf, total < 200 ? total : 200);
    printf("%s\n", total < 200 ? "" : "...");
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < total; i++) h = (h ^ (unsigned char)buf[i]) * 16777619u;
    printf("stdin fnv1a: %08x\n", (unsigned)h);
    EXPECT_OK("read at EOF", read_some(0, buf, 10, &n));
    EXPECT_U64("read at EOF gives", n, 0);
    EXPECT_OK("read at EOF again", read_some(0, buf, 10, &n));
    EXPECT_U64("read at EOF again gives", n, 0);
    EXPECT_OK("zero-length read", read_some(0, buf, 0, &n));
    EXPECT_U64("zero-length read gives", n, 0);

    SECTION("fd directions");
    __wasi_fdstat_t st;
    EXPECT_OK("fdstat stdin", __wasi_fd_fdstat_get(0, &st));
    EXPECT_OK("fdstat stdout", __wasi_fd_fdstat_get(1, &st));
    EXPECT_OK("fdstat stderr", __wasi_fd_fdstat_get(2, &st));
    EXPECT_ERRNO("fdstat fd 99", __wasi_fd_fdstat_get(99, &st), __WASI_ERRNO_BADF);

    SECTION("stdout writes");
    fflush(stdout);
    size_t w = 0;
    __wasi_ciovec_t iov[4] = {
        {(const uint8_t *)"gathered ", 9}, {(const uint8_t *)"", 0},
        {(const uint8_t *)"write", 5}, {(const uint8_t *)"\n", 1}};
    __wasi_size_t nw = 0;
    EXPECT_OK("fd_write 4 iovecs", __wasi_fd_write(1, iov, 4, &nw));
    /* A short write is allowed (wasmtime writes only the first non-empty iovec to a
     * stream); finish the rest the way a careful program does. */
    EXPECT_TRUE("fd_write 4 iovecs wrote 1..15 bytes", nw >= 1 && nw <= 15);
    {
        const char *all = "gathered write\n";
        size_t done_bytes = nw, more = 0;
        while (done_bytes < 15 && !write_all(1, all + done_bytes, 15 - done_bytes, &more) && more)
            done_bytes += more;
        EXPECT_U64("gathered write completed", done_bytes, 15);
    }
    EXPECT_OK("zero-length write", write_all(1, "", 0, &w));
    EXPECT_U64("zero-length write wrote", w, 0);
    EXPECT_OK("fd_write no iovecs", __wasi_fd_write(1, iov, 0, &nw));
    EXPECT_U64("fd_write no iovecs wrote", nw, 0);
    /* 100 KiB in one call: the whole buffer is delivered */
    static char big[100 * 1024];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\n';
    fflush(stdout);
    EXPECT_OK("100 KiB write to stderr", write_all(2, big, sizeof big, &w));
    EXPECT_U64("100 KiB write wrote", w, sizeof big);

    SECTION("raw bytes");
    static const char raw[] = "bin:\x00\x01\xff\xfe\r\n\xc3\xa9t\xc3\xa9 \x80\n";
    EXPECT_OK("raw bytes to stderr", write_all(2, raw, sizeof raw - 1, &w));
    EXPECT_U64("raw bytes wrote", w, sizeof raw - 1);
    fputs("stderr via stdio\n", stderr);
    fprintf(stderr, "no newline at the end of stderr");
    fflush(stderr);
    if (strcmp(mode, "exit") == 0) {
        printf("exiting with 3 after a last line without newline");
        fflush(stdout);
        __wasi_proc_exit(3);
    }
    int r = done();
    printf("last line without newline");
    return r;
}
