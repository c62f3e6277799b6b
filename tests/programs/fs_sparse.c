/* Sparse files across the boundaries of wasi.wasm's chunk table (dev/vfs/chunk_table.h):
 * leaf 0 holds chunks 0..1023 (the first 64 MiB), each far leaf the next 64 MiB. Writes,
 * reads, appends and truncations that straddle those boundaries, far leaves at 1 TiB and at
 * the largest offset ext4 allows (2^44 - 4096), and 41 leaves that outgrow the top array
 * several times. Differential: the same bytes and sizes as on a real filesystem. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define LEAF (1ULL << 26)
#define TIB (1ULL << 40)
#define MAX_SIZE ((1ULL << 44) - 4096)
#define BIG 200000

static __wasi_fd_t fd;
static char big[BIG], back[BIG];

static uint64_t size_now(void) {
    __wasi_filestat_t st;
    return __wasi_fd_filestat_get(fd, &st) ? (uint64_t)-1 : st.size;
}

static __wasi_errno_t put(uint64_t offset, const void *data, size_t len) {
    for (size_t done = 0; done < len;) {
        __wasi_ciovec_t iov = {(const uint8_t *)data + done, len - done};
        __wasi_size_t got = 0;
        __wasi_errno_t e = __wasi_fd_pwrite(fd, &iov, 1, offset + done, &got);
        if (e || !got) return e ? e : __WASI_ERRNO_IO;
        done += got;
    }
    return 0;
}

/* Up to len bytes at offset (fewer only at the end: a read may be short, as wasmtime's
   are for large ones), or (size_t)-1. */
static size_t get(uint64_t offset, void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        __wasi_iovec_t iov = {(uint8_t *)buf + done, len - done};
        __wasi_size_t got = 0;
        if (__wasi_fd_pread(fd, &iov, 1, offset + done, &got)) return (size_t)-1;
        if (!got) break;
        done += got;
    }
    return done;
}

/* len bytes at offset are want; at_end: and the file ends there (8 more are asked for). */
static void expect_bytes(const char *label, uint64_t offset, const char *want, size_t len, int at_end) {
    char buf[64];
    size_t got = get(offset, buf, len + (at_end ? 8 : 0));
    EXPECT_BYTES(label, buf, got == (size_t)-1 ? 0 : got, want, len);
}
#define expect_at(label, offset, want, len) expect_bytes((label), (offset), (want), (len), 0)
#define expect_end(label, offset, want, len) expect_bytes((label), (offset), (want), (len), 1)

static void expect_big(const char *label, uint64_t offset, size_t len, int zeros) {
    size_t got = get(offset, back, len);
    int same = got == len;
    for (size_t i = 0; same && i < len; i++) same = back[i] == (zeros ? 0 : big[i]);
    EXPECT_TRUE(label, same);
}

static void across_leaves(void) {
    SECTION("writes across leaf boundaries");
    EXPECT_OK("create", open_at(SANDBOX_FD, "sparse", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("pwrite at 0 (a small leaf 0)", put(0, "hd", 2));
    EXPECT_OK("pwrite across 64 MiB", put(LEAF - 3, "abcdef", 6));
    expect_at("  read it back", LEAF - 5, "\0\0abcdef", 8);
    expect_at("  the head is intact", 0, "hd\0", 3);
    EXPECT_OK("pwrite across 128 MiB", put(2 * LEAF - 3, "ghijkl", 6));
    expect_at("  read it back", 2 * LEAF - 5, "\0\0ghijkl", 8);
    EXPECT_OK("pwrite across 1 TiB", put(TIB - 3, "mnopqr", 6));
    expect_at("  read it back", TIB - 5, "\0\0mnopqr", 8);
    EXPECT_U64("size", size_now(), TIB + 3);
    for (size_t i = 0; i < BIG; i++) big[i] = (char)(i * 7 + i / 251 + 1);
    EXPECT_OK("200 KB across 192 MiB", put(3 * LEAF - BIG / 2, big, BIG));
    expect_big("  read it back", 3 * LEAF - BIG / 2, BIG, 0);
    expect_at("  zeros before it", 3 * LEAF - BIG / 2 - 4, "\0\0\0\0", 4);
    EXPECT_OK("pwrite at the largest offset", put(MAX_SIZE - 1, "z", 1));
    EXPECT_U64("size", size_now(), MAX_SIZE);
    expect_end("  read up to the end", MAX_SIZE - 3, "\0\0z", 3);
    expect_at("a leaf never written reads zeros", 5 * LEAF + 12345, "\0\0\0\0", 4);
    expect_at("past 1 TiB reads zeros", TIB + LEAF, "\0\0\0\0", 4);
    expect_at("8 TiB reads zeros", 1ULL << 43, "\0\0\0\0", 4);
    expect_at("64 MiB is intact", LEAF - 3, "abcdef", 6);
}

static void truncations(void) {
    SECTION("truncations at leaf boundaries");
    EXPECT_OK("set_size 1 TiB + 1", __wasi_fd_filestat_set_size(fd, TIB + 1));
    expect_end("  cut at the end", TIB - 3, "mnop", 4);
    EXPECT_OK("set_size back to the largest", __wasi_fd_filestat_set_size(fd, MAX_SIZE));
    expect_at("  the cut bytes are gone", TIB - 3, "mnop\0\0", 6);
    expect_end("  the last byte is gone", MAX_SIZE - 3, "\0\0\0", 3);
    EXPECT_OK("set_size 192 MiB (inside the 200 KB)", __wasi_fd_filestat_set_size(fd, 3 * LEAF));
    expect_big("  the part before is intact", 3 * LEAF - BIG / 2, BIG / 2, 0);
    EXPECT_OK("set_size 256 MiB", __wasi_fd_filestat_set_size(fd, 4 * LEAF));
    expect_big("  the part after is zeros", 3 * LEAF, BIG / 2, 1);
    EXPECT_OK("set_size 128 MiB (a leaf boundary)", __wasi_fd_filestat_set_size(fd, 2 * LEAF));
    EXPECT_OK("set_size 128 MiB + 10", __wasi_fd_filestat_set_size(fd, 2 * LEAF + 10));
    expect_at("  kept below it, zeros above", 2 * LEAF - 3, "ghi\0\0\0", 6);
    EXPECT_OK("set_size 64 MiB - 1", __wasi_fd_filestat_set_size(fd, LEAF - 1));
    EXPECT_OK("set_size 64 MiB + 10", __wasi_fd_filestat_set_size(fd, LEAF + 10));
    expect_at("  kept below it, zeros above", LEAF - 3, "ab\0\0\0\0", 6);
    EXPECT_OK("set_size 0", __wasi_fd_filestat_set_size(fd, 0));
    EXPECT_OK("set_size the largest", __wasi_fd_filestat_set_size(fd, MAX_SIZE));
    expect_at("  zeros at 0", 0, "\0\0\0", 3);
    expect_at("  zeros at 64 MiB", LEAF - 3, "\0\0\0\0\0\0", 6);
    expect_at("  zeros at 1 TiB", TIB - 3, "\0\0\0\0\0\0", 6);
    expect_end("  zeros at the end", MAX_SIZE - 3, "\0\0\0", 3);
    EXPECT_OK("pwrite at the largest offset again", put(MAX_SIZE - 1, "y", 1));
    expect_end("  read it back", MAX_SIZE - 2, "\0y", 2);
    EXPECT_OK("set_size 5", __wasi_fd_filestat_set_size(fd, 5));
    EXPECT_U64("size", size_now(), 5);
    EXPECT_OK("close", __wasi_fd_close(fd));
}

static void append_across(void) {
    SECTION("append across a leaf boundary");
    EXPECT_OK("create with O_APPEND",
              open_at(SANDBOX_FD, "log", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, __WASI_FDFLAGS_APPEND, &fd));
    EXPECT_OK("set_size 64 MiB - 4", __wasi_fd_filestat_set_size(fd, LEAF - 4));
    __wasi_ciovec_t iov = {(const uint8_t *)"0123456789", 10};
    __wasi_size_t got = 0;
    EXPECT_OK("append 10 bytes", __wasi_fd_write(fd, &iov, 1, &got));
    EXPECT_U64("size", size_now(), LEAF + 6);
    expect_at("  read it back", LEAF - 6, "\0\0" "0123456789", 12);
    EXPECT_OK("close", __wasi_fd_close(fd));
}

static void many_leaves(void) {
    SECTION("41 leaves");
    EXPECT_OK("create", open_at(SANDBOX_FD, "many", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    int ok = 1;
    for (uint64_t k = 0; k <= 40; k++) {
        char c = (char)('A' + k);
        ok &= put(k * LEAF + k * 1000, &c, 1) == 0;
    }
    EXPECT_TRUE("one byte in each of 41 leaves", ok);
    EXPECT_OK("one more in leaf 20, 7 chunks in", put(20 * LEAF + 7 * 65536 + 3, "!", 1));
    for (uint64_t k = 0; k <= 40 && ok; k++) {
        char c = 0;
        ok = get(k * LEAF + k * 1000, &c, 1) == 1 && c == (char)('A' + k);
    }
    EXPECT_TRUE("  each reads back", ok);
    EXPECT_OK("set_size 20 leaves and 5 bytes", __wasi_fd_filestat_set_size(fd, 20 * LEAF + 5));
    EXPECT_OK("set_size 41 leaves", __wasi_fd_filestat_set_size(fd, 41 * LEAF));
    int kept = 1, gone = 1;
    for (uint64_t k = 0; k <= 40; k++) {
        char c = 1;
        size_t got = get(k * LEAF + k * 1000, &c, 1);
        if (k < 20) kept &= got == 1 && c == (char)('A' + k);
        else gone &= got == 1 && c == 0;
    }
    EXPECT_TRUE("  the 20 below are kept", kept);
    EXPECT_TRUE("  the 21 above read zeros", gone);
    expect_at("  the cut leaf's later chunk reads zeros", 20 * LEAF + 7 * 65536 + 3, "\0", 1);
    EXPECT_OK("close", __wasi_fd_close(fd));
}

int main(void) {
    across_leaves();
    truncations();
    append_across();
    many_leaves();
    return done();
}
