/* Corner cases of the core's fd table, offsets and errnos, with wasmtime-on-Linux's
 * answers (wasmtime-py's own WASI on ext4):
 *
 *   fds       24+ open files (the fd table grows past 16 and 32 entries), the number a new fd
 *             gets (wasmtime: the highest free number first, then one past the highest in
 *             use), stdin closed, the preopen renumbered onto fd 0 and used from there;
 *   offsets   fd_pwrite / fd_pread at offsets >= 2^63 or where offset + len wraps or passes
 *             2^63 - 1: EINVAL (as Linux's pread/pwrite, which take a signed off_t and refuse
 *             pos + count overflowing it), nothing written, the file unchanged;
 *   errnos    mkdir "f/" on a file, set_size up to 2^63, poll_oneoff with huge counts.
 *
 * Rights are where wasi.wasm deliberately differs (wasmtime ignores the rights asked for
 * except to choose the access mode, and reports a fixed set; wasi.wasm gives exactly those
 * asked for, masked by the directory's inheriting rights): wasi_only_rights.c.
 *
 * Results that depend on the host filesystem's largest file size (ext4: 16 TiB - 4 KiB with
 * 4 KiB blocks; tmpfs, xfs, btrfs: 2^63 - 1) are printed as "EFBIG, or OK and it took effect",
 * so the program passes on any of them; the comments say what ext4 gives. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define P63 0x8000000000000000ULL /* 2^63 */
#define U64_MAX 0xffffffffffffffffULL

/* slurp() for EXPECT_STR: a failed read shows as empty. */
static size_t slurp0(const char *path, char *buf, size_t cap) {
    long n = slurp(path, buf, cap);
    return n < 0 ? 0 : (size_t)n;
}

static uint64_t size_of(__wasi_fd_t fd) {
    __wasi_filestat_t st;
    if (__wasi_fd_filestat_get(fd, &st)) return U64_MAX;
    return st.size;
}

/* Whole contents of an open file, read from offset 0 with fd_pread. */
static size_t pread_all(__wasi_fd_t fd, char *buf, size_t cap) {
    __wasi_iovec_t iov = {(uint8_t *)buf, cap};
    __wasi_size_t got = 0;
    if (__wasi_fd_pread(fd, &iov, 1, 0, &got)) return 0;
    return got;
}

/* Create (truncate) a file relative to dir with the given contents; fd in *out. */
static void create_in(__wasi_fd_t dir, const char *path, const char *contents, __wasi_fd_t *out) {
    __wasi_errno_t e = open_at(dir, path, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, out);
    size_t n;
    if (e || (*contents && (write_all(*out, contents, strlen(contents), &n) || n != strlen(contents)))) {
        printf("setup: create %s failed: %s\n", path, errname(e));
        exit(2);
    }
}

static void fds(void) {
    __wasi_fd_t many[24], fd, again, dir, file, more[10];
    __wasi_fdstat_t fs;
    __wasi_prestat_t ps;
    __wasi_filestat_t st;
    char name[16], buf[64];
    size_t n;

    SECTION("many fds");
    make_dir("sub");
    int opened = 0, in_order = 1;
    for (int i = 0; i < 24; i++) {
        snprintf(name, sizeof name, "m%02d", i);
        if (open_at(SANDBOX_FD, name, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &many[i]) == 0) opened++;
        if (many[i] != (__wasi_fd_t)(4 + i)) in_order = 0;
        (void)write_all(many[i], name, 3, &n);
    }
    EXPECT_U64("files opened", opened, 24);
    EXPECT_TRUE("fds 4..27 in order", in_order);
    EXPECT_STR("fd 27 is m23", buf, pread_all(27, buf, sizeof buf), "m23");
    EXPECT_OK("close fd 9", __wasi_fd_close(many[5]));
    EXPECT_OK("close fd 14", __wasi_fd_close(many[10]));
    /* wasmtime hands out the highest free number first (whatever the order of the closes). */
    EXPECT_OK("reopen m05", open_at(SANDBOX_FD, "m05", 0, 0, RIGHTS_RW, 0, &many[5]));
    EXPECT_U64("its fd", many[5], 14);
    EXPECT_OK("reopen m10", open_at(SANDBOX_FD, "m10", 0, 0, RIGHTS_RW, 0, &many[10]));
    EXPECT_U64("its fd", many[10], 9);
    EXPECT_STR("fd 14 reads m05", buf, pread_all(14, buf, sizeof buf), "m05");
    EXPECT_STR("fd 9 reads m10", buf, pread_all(9, buf, sizeof buf), "m10");
    EXPECT_OK("close fd 16", __wasi_fd_close(many[12]));
    EXPECT_OK("close fd 7", __wasi_fd_close(many[3]));
    EXPECT_OK("close fd 24", __wasi_fd_close(many[20]));
    EXPECT_OK("open m12", open_at(SANDBOX_FD, "m12", 0, 0, RIGHTS_RW, 0, &many[12]));
    EXPECT_U64("its fd", many[12], 24);
    EXPECT_OK("open m03", open_at(SANDBOX_FD, "m03", 0, 0, RIGHTS_RW, 0, &many[3]));
    EXPECT_U64("its fd", many[3], 16);
    EXPECT_OK("open m20", open_at(SANDBOX_FD, "m20", 0, 0, RIGHTS_RW, 0, &many[20]));
    EXPECT_U64("its fd", many[20], 7);
    EXPECT_OK("open m00 again", open_at(SANDBOX_FD, "m00", 0, 0, RIGHTS_RW, 0, &again));
    EXPECT_U64("a new number", again, 28);

    SECTION("stdin closed");
    EXPECT_OK("close stdin", __wasi_fd_close(0));
    /* wasmtime renumbers only onto an open fd. */
    EXPECT_ERRNO("renumber 3 onto the closed fd 0", __wasi_fd_renumber(SANDBOX_FD, 0), __WASI_ERRNO_BADF);
    EXPECT_OK("prestat 3 still there", __wasi_fd_prestat_get(SANDBOX_FD, &ps));
    EXPECT_OK("open a directory", open_at(SANDBOX_FD, "sub", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dir));
    EXPECT_U64("it gets fd", dir, 0);
    EXPECT_OK("fdstat fd 0", __wasi_fd_fdstat_get(0, &fs));
    EXPECT_TYPE("type", fs.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_ERRNO("prestat 0 (not a preopen)", __wasi_fd_prestat_get(0, &ps), __WASI_ERRNO_BADF);

    SECTION("preopen renumbered onto fd 0");
    EXPECT_OK("renumber 3 onto 0 (closing the directory)", __wasi_fd_renumber(SANDBOX_FD, 0));
    EXPECT_OK("prestat 0", __wasi_fd_prestat_get(0, &ps));
    EXPECT_U64("name length", ps.u.dir.pr_name_len, strlen("/sandbox"));
    memset(buf, 0, sizeof buf);
    EXPECT_OK("prestat_dir_name 0", __wasi_fd_prestat_dir_name(0, (uint8_t *)buf, ps.u.dir.pr_name_len));
    EXPECT_STR("name", buf, strlen(buf), "/sandbox");
    EXPECT_ERRNO("prestat 3", __wasi_fd_prestat_get(SANDBOX_FD, &ps), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fdstat 3", __wasi_fd_fdstat_get(SANDBOX_FD, &fs), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("renumber 3 onto 0 again", __wasi_fd_renumber(SANDBOX_FD, 0), __WASI_ERRNO_BADF);
    EXPECT_OK("open sub through fd 0", open_at(0, "sub", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dir));
    EXPECT_U64("it gets the freed fd", dir, 3);
    EXPECT_OK("create sub/file through fd 0", open_at(0, "sub/file", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &file));
    EXPECT_U64("it gets a new number", file, 29);
    EXPECT_OK("write", write_all(file, "written through fd 0", 20, &n));
    EXPECT_U64("bytes", n, 20);
    EXPECT_STR("read back", buf, pread_all(file, buf, sizeof buf), "written through fd 0");
    EXPECT_U64("fd_filestat_get size", size_of(file), 20);
    EXPECT_OK("stat sub/file through fd 0", __wasi_path_filestat_get(0, 0, "sub/file", &st));
    EXPECT_U64("size", st.size, 20);
    EXPECT_OK("stat file through sub's fd", __wasi_path_filestat_get(dir, 0, "file", &st));
    EXPECT_U64("size", st.size, 20);
    EXPECT_OK("mkdir sub/deeper through fd 0", __wasi_path_create_directory(0, "sub/deeper"));
    EXPECT_OK("stat it through sub's fd", __wasi_path_filestat_get(dir, 0, "deeper", &st));
    EXPECT_TYPE("type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    int good = 0, numbered = 1;
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "sub/n%d", i);
        if (open_at(0, name, F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &more[i])) {
            more[i] = (__wasi_fd_t)-1;
            continue;
        }
        if (more[i] != (__wasi_fd_t)(30 + i)) numbered = 0;
        if (write_all(more[i], name, strlen(name), &n) == 0 && n == strlen(name) &&
            pread_all(more[i], buf, sizeof buf) == strlen(name) && memcmp(buf, name, n) == 0)
            good++;
    }
    EXPECT_U64("files opened, written and read back through fd 0", good, 10);
    EXPECT_TRUE("their fds are 30..39", numbered);
    EXPECT_OK("open the last one again through sub's fd", open_at(dir, "n9", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_U64("its fd", fd, 40);
    EXPECT_STR("content", buf, pread_all(fd, buf, sizeof buf), "sub/n9");
    EXPECT_OK("close it", __wasi_fd_close(fd));
    EXPECT_OK("renumber 0 back onto 3 (closing sub's fd)", __wasi_fd_renumber(0, SANDBOX_FD));
    EXPECT_OK("prestat 3", __wasi_fd_prestat_get(SANDBOX_FD, &ps));
    EXPECT_ERRNO("fdstat 0", __wasi_fd_fdstat_get(0, &fs), __WASI_ERRNO_BADF);
    EXPECT_STR("sub/file through the preopen", buf, slurp0("sub/file", buf, sizeof buf), "written through fd 0");
    int closed = 0;
    for (int i = 0; i < 24; i++) closed += __wasi_fd_close(many[i]) == 0;
    for (int i = 0; i < 10; i++) closed += __wasi_fd_close(more[i]) == 0;
    closed += __wasi_fd_close(again) == 0;
    closed += __wasi_fd_close(file) == 0;
    EXPECT_U64("fds closed", closed, 36);
}

struct span {
    const char *label;
    uint64_t offset;
    size_t len;
};

static void offsets(void) {
    static const char data[17] = "ABCDEFGHIJKLMNOP";
    static const struct span spans[] = {
        {"2^64-1 len 1", U64_MAX, 1},
        {"2^64-1 len 16", U64_MAX, 16},
        {"2^64-1 len 0", U64_MAX, 0},
        {"2^64-4 len 8 (wraps to 4)", U64_MAX - 3, 8},
        {"2^64-4 len 4 (wraps to 0)", U64_MAX - 3, 4},
        {"2^63 len 1", P63, 1},
        {"2^63 len 0", P63, 0},
        {"2^63-1 len 2", P63 - 1, 2},
        {"2^63-1 len 1", P63 - 1, 1},
        {"2^63-16 len 16", P63 - 16, 16},
        {"2^63-16 len 17", P63 - 16, 17},
    };
    __wasi_fd_t empty, full, scratch;
    char buf[64], label[96];
    __wasi_size_t got;

    SECTION("fd_pwrite / fd_pread at huge offsets");
    create_in(SANDBOX_FD, "empty", "", &empty);
    create_in(SANDBOX_FD, "data", "0123456789", &full);
    for (size_t i = 0; i < sizeof spans / sizeof *spans; i++) {
        const struct span *s = &spans[i];
        for (int which = 0; which < 2; which++) {
            __wasi_fd_t fd = which ? full : empty;
            const char *file = which ? "data" : "empty";
            __wasi_ciovec_t out = {(const uint8_t *)data, s->len};
            snprintf(label, sizeof label, "pwrite %s at %s", file, s->label);
            got = 0;
            if (!EXPECT_ERRNO(label, __wasi_fd_pwrite(fd, &out, 1, s->offset, &got), __WASI_ERRNO_INVAL))
                EXPECT_U64("  written", got, 0);
            __wasi_iovec_t in = {(uint8_t *)buf, s->len};
            snprintf(label, sizeof label, "pread %s at %s", file, s->label);
            got = 0;
            if (!EXPECT_ERRNO(label, __wasi_fd_pread(fd, &in, 1, s->offset, &got), __WASI_ERRNO_INVAL))
                EXPECT_U64("  read", got, 0);
        }
    }
    /* Below 2^63 and not overflowing: a read past the end reads nothing. */
    __wasi_iovec_t in = {(uint8_t *)buf, 8};
    EXPECT_OK("pread empty at 2^63-16 len 8", __wasi_fd_pread(empty, &in, 1, P63 - 16, &got));
    EXPECT_U64("  read", got, 0);
    EXPECT_OK("pread data at 2^63-16 len 8", __wasi_fd_pread(full, &in, 1, P63 - 16, &got));
    EXPECT_U64("  read", got, 0);
    EXPECT_OK("pread data at 2^62 len 8", __wasi_fd_pread(full, &in, 1, 1ULL << 62, &got));
    EXPECT_U64("  read", got, 0);
    EXPECT_U64("empty: size", size_of(empty), 0);
    EXPECT_U64("data: size", size_of(full), 10);
    EXPECT_STR("empty: content", buf, slurp0("empty", buf, sizeof buf), "");
    EXPECT_STR("data: content", buf, slurp0("data", buf, sizeof buf), "0123456789");
    __wasi_filesize_t pos;
    EXPECT_OK("data: tell", __wasi_fd_tell(full, &pos));
    EXPECT_U64("  offset unchanged by pwrite and pread", pos, 10);
    /* A write that ends below 2^63 but past the filesystem's largest file size: EFBIG on ext4
     * (largest 2^44 - 4096), accepted as a sparse write on tmpfs, xfs and btrfs. */
    create_in(SANDBOX_FD, "scratch", "xyz", &scratch);
    __wasi_ciovec_t out = {(const uint8_t *)data, 8};
    got = 0;
    __wasi_errno_t e = __wasi_fd_pwrite(scratch, &out, 1, P63 - 16, &got);
    EXPECT_TRUE("pwrite at 2^63-16 len 8: EFBIG (ext4), or OK writing 8 bytes",
                (e == __WASI_ERRNO_FBIG && size_of(scratch) == 3) ||
                    (e == 0 && got == 8 && size_of(scratch) == P63 - 8));
    EXPECT_OK("pwrite at 2^63-16 len 0", __wasi_fd_pwrite(scratch, &out, 0, P63 - 16, &got));
    (void)__wasi_fd_close(empty);
    (void)__wasi_fd_close(full);
    (void)__wasi_fd_close(scratch);
}

static void errnos(void) {
    __wasi_fd_t fd;
    char buf[64];
    __wasi_size_t got;
    __wasi_errno_t e;

    SECTION("errno table");
    make_file("f", "abc");
    EXPECT_ERRNO("mkdir \"f/\" (f a file)", __wasi_path_create_directory(SANDBOX_FD, "f/"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("mkdir \"f\"", __wasi_path_create_directory(SANDBOX_FD, "f"), __WASI_ERRNO_EXIST);
    EXPECT_OK("open f", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    __wasi_iovec_t in = {(uint8_t *)buf, 4};
    __wasi_ciovec_t out = {(const uint8_t *)"WXYZ", 4};
    EXPECT_ERRNO("pread at 2^63+5", __wasi_fd_pread(fd, &in, 1, P63 + 5, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("pread at 3*2^62", __wasi_fd_pread(fd, &in, 1, 3ULL << 62, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("pwrite at 2^63+5", __wasi_fd_pwrite(fd, &out, 1, P63 + 5, &got), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("pwrite at 3*2^62", __wasi_fd_pwrite(fd, &out, 1, 3ULL << 62, &got), __WASI_ERRNO_INVAL);
    EXPECT_U64("size", size_of(fd), 3);
    /* A sparse 1 TiB + 1 file: fine on ext4 (up to 16 TiB), tmpfs, xfs and btrfs. */
    EXPECT_OK("set_size 2^40+1", __wasi_fd_filestat_set_size(fd, (1ULL << 40) + 1));
    EXPECT_U64("size", size_of(fd), (1ULL << 40) + 1);
    EXPECT_OK("pread at 2^40-2 len 4", __wasi_fd_pread(fd, &in, 1, (1ULL << 40) - 2, &got));
    EXPECT_BYTES("  data (zeros up to the end)", buf, got, "\0\0\0", 3);
    /* ext4: EFBIG for both (its largest file is 2^44 - 4096); tmpfs, xfs, btrfs accept. */
    e = __wasi_fd_filestat_set_size(fd, 1ULL << 62);
    EXPECT_TRUE("set_size 2^62: EFBIG (ext4) with the size unchanged, or OK",
                (e == __WASI_ERRNO_FBIG && size_of(fd) == (1ULL << 40) + 1) || (e == 0 && size_of(fd) == 1ULL << 62));
    EXPECT_OK("set_size 2^40+1", __wasi_fd_filestat_set_size(fd, (1ULL << 40) + 1));
    e = __wasi_fd_filestat_set_size(fd, P63 - 1);
    EXPECT_TRUE("set_size 2^63-1: EFBIG (ext4) with the size unchanged, or OK",
                (e == __WASI_ERRNO_FBIG && size_of(fd) == (1ULL << 40) + 1) || (e == 0 && size_of(fd) == P63 - 1));
    EXPECT_OK("set_size 2^40+1", __wasi_fd_filestat_set_size(fd, (1ULL << 40) + 1));
    EXPECT_ERRNO("set_size 2^63", __wasi_fd_filestat_set_size(fd, P63), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("set_size 2^64-1", __wasi_fd_filestat_set_size(fd, U64_MAX), __WASI_ERRNO_INVAL);
    EXPECT_U64("size", size_of(fd), (1ULL << 40) + 1);
    EXPECT_OK("set_size 3", __wasi_fd_filestat_set_size(fd, 3));
    EXPECT_STR("content", buf, slurp0("f", buf, sizeof buf), "abc");
    (void)__wasi_fd_close(fd);

    /* Small valid buffers, a count whose arrays run far past them (and, for 2^28, past 4 GiB).
     * wasmtime answers ENOMEM for counts above 2^21 (observed: 2^21 + 1 and up; at 2^21 it
     * reads on past the buffers), leaving nevents alone. */
    static __wasi_subscription_t subs[4];
    static __wasi_event_t events[4];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 7;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    static const uint32_t counts[] = {1u << 28, 1u << 26, 1u << 24};
    static const char *const names[] = {"2^28", "2^26", "2^24"};
    for (int i = 0; i < 3; i++) {
        char label[64];
        __wasi_size_t nevents = 12345;
        snprintf(label, sizeof label, "poll_oneoff %s subscriptions", names[i]);
        EXPECT_ERRNO(label, __wasi_poll_oneoff(subs, events, counts[i], &nevents), __WASI_ERRNO_NOMEM);
        EXPECT_U64("  nevents untouched", nevents, 12345);
    }
    __wasi_size_t nevents = 0;
    EXPECT_OK("poll_oneoff 1 subscription", __wasi_poll_oneoff(subs, events, 1, &nevents));
    EXPECT_U64("  nevents", nevents, 1);
    EXPECT_U64("  userdata", events[0].userdata, 7);
}

int main(void) {
    fds();
    offsets();
    errnos();
    return done();
}
