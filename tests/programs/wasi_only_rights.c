/* wasi.wasm only: the rights of an fd opened by path_open are exactly those asked for, masked
 * by the directory fd's inheriting rights (base = asked base & dir inheriting, inheriting =
 * asked inheriting & dir inheriting). The fd reads only with FD_READ and writes only with
 * FD_WRITE (EBADF otherwise: O_CREAT and O_TRUNC do not make it writable); every other call
 * needs its right (ENOTCAPABLE). O_TRUNC needs PATH_FILESTAT_SET_SIZE on the directory fd,
 * which the preopen has.
 *
 * wasmtime 50 differs on purpose: it looks at the rights asked for only to choose the access
 * mode (O_CREAT and O_TRUNC open for writing), reports a fixed set (0x3fffffff for a writable
 * file, 0x3fffffbf for a read-only one) and checks no rights. wasi-libc's open() asks for
 * nearly every right, masked by the directory's inheriting rights, so ordinary programs see
 * no difference. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define R(name) ((__wasi_rights_t)__WASI_RIGHTS_##name)

/* The preopen's rights: the directory rights in its base (PATH_FILESTAT_SET_SIZE included),
 * every right but SOCK_SHUTDOWN (bit 28) in its inheriting rights. */
#define PREOPEN_BASE                                                                          \
    (R(PATH_CREATE_DIRECTORY) | R(PATH_CREATE_FILE) | R(PATH_LINK_SOURCE) |                   \
     R(PATH_LINK_TARGET) | R(PATH_OPEN) | R(FD_READDIR) | R(PATH_READLINK) |                  \
     R(PATH_RENAME_SOURCE) | R(PATH_RENAME_TARGET) | R(PATH_FILESTAT_GET) |                    \
     R(PATH_FILESTAT_SET_SIZE) | R(PATH_FILESTAT_SET_TIMES) | R(FD_FILESTAT_GET) |             \
     R(FD_FILESTAT_SET_TIMES) | R(PATH_SYMLINK) | R(PATH_REMOVE_DIRECTORY) | R(PATH_UNLINK_FILE))
#define PREOPEN_INHERITING ((__wasi_rights_t)0x0fffffff)
#define EVERY_RIGHT ((__wasi_rights_t)RAW_RIGHTS_ALL) /* bits 0..29, the most path_open accepts */

static void check_hex(const char *label, uint64_t got, uint64_t want) {
    printf("%s: 0x%llx", label, (unsigned long long)got);
    if (got != want) {
        char buf[32];
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)want);
        wt_mismatch(buf);
    }
    printf("\n");
}

static void rights_are(const char *label, __wasi_fd_t fd, uint64_t base, uint64_t inheriting) {
    __wasi_fdstat_t fs;
    char l[96];
    snprintf(l, sizeof l, "%s: fdstat", label);
    if (EXPECT_OK(l, __wasi_fd_fdstat_get(fd, &fs))) return;
    check_hex("  rights_base", fs.fs_rights_base, base);
    check_hex("  rights_inheriting", fs.fs_rights_inheriting, inheriting);
}

static __wasi_errno_t open_with(__wasi_fd_t dir, const char *path, __wasi_oflags_t oflags,
                                __wasi_rights_t base, __wasi_rights_t inheriting, __wasi_fd_t *fd) {
    *fd = (__wasi_fd_t)-1;
    return __wasi_path_open(dir, F, path, oflags, base, inheriting, 0, fd);
}

/* A file's size; UINT64_MAX if it cannot be stat'ed (the program goes on under wasmtime). */
static uint64_t size_at(const char *path) {
    __wasi_filestat_t st;
    return __wasi_path_filestat_get(SANDBOX_FD, 0, path, &st) ? UINT64_MAX : st.size;
}

static size_t contents(const char *path, char *buf, size_t cap) {
    long n = slurp(path, buf, cap);
    return n < 0 ? 0 : (size_t)n;
}

static void exact_rights(void) {
    __wasi_fd_t fd;
    size_t n;
    char buf[64];
    __wasi_filesize_t pos;
    __wasi_filestat_t st;
    const __wasi_rights_t rws = R(FD_READ) | R(FD_WRITE) | R(FD_SEEK);

    SECTION("the preopen");
    rights_are("preopen", SANDBOX_FD, PREOPEN_BASE, PREOPEN_INHERITING);

    SECTION("rights reported by fd_fdstat_get: asked & the directory's inheriting rights");
    EXPECT_OK("CREAT with base FD_READ, inheriting 0", open_with(SANDBOX_FD, "r", __WASI_OFLAGS_CREAT, R(FD_READ), 0, &fd));
    rights_are("CREAT, FD_READ", fd, R(FD_READ), 0);
    EXPECT_ERRNO("write on it (O_CREAT does not make it writable)", write_all(fd, "hello", 5, &n), __WASI_ERRNO_BADF);
    EXPECT_STR("content", buf, contents("r", buf, sizeof buf), "");
    (void)__wasi_fd_close(fd);
    make_file("r", "hello");
    EXPECT_OK("reopen with FD_READ|FD_WRITE|FD_SEEK", open_with(SANDBOX_FD, "r", 0, rws, 0, &fd));
    rights_are("FD_READ|FD_WRITE|FD_SEEK", fd, rws, 0);
    EXPECT_OK("write on it", write_all(fd, "J", 1, &n));
    EXPECT_OK("seek", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    EXPECT_ERRNO("tell without FD_TELL", __wasi_fd_tell(fd, &pos), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_filestat_get without FD_FILESTAT_GET", __wasi_fd_filestat_get(fd, &st), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("set_size without FD_FILESTAT_SET_SIZE", __wasi_fd_filestat_set_size(fd, 1), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_sync without FD_SYNC", __wasi_fd_sync(fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("set_flags without FD_FDSTAT_SET_FLAGS", __wasi_fd_fdstat_set_flags(fd, 0), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_STR("content", buf, contents("r", buf, sizeof buf), "Jello");
    (void)__wasi_fd_close(fd);
    EXPECT_OK("CREAT a new file with FD_READ|FD_WRITE|FD_SEEK", open_with(SANDBOX_FD, "r2", __WASI_OFLAGS_CREAT, rws, rws, &fd));
    rights_are("CREAT, FD_READ|FD_WRITE|FD_SEEK", fd, rws, rws);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("every right (bits 0..29)", open_with(SANDBOX_FD, "r", 0, EVERY_RIGHT, EVERY_RIGHT, &fd));
    rights_are("every right", fd, EVERY_RIGHT & PREOPEN_INHERITING, EVERY_RIGHT & PREOPEN_INHERITING);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("RIGHTS_RW", open_with(SANDBOX_FD, "r", 0, RIGHTS_RW, RIGHTS_ALL, &fd));
    rights_are("RIGHTS_RW", fd, RIGHTS_RW, RIGHTS_ALL & PREOPEN_INHERITING);
    (void)__wasi_fd_close(fd);

    SECTION("reading and writing need FD_READ and FD_WRITE");
    EXPECT_OK("FD_READ only", open_with(SANDBOX_FD, "r", 0, R(FD_READ), 0, &fd));
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("data", buf, n, "Jello");
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("write of nothing", write_all(fd, "", 0, &n), __WASI_ERRNO_BADF);
    __wasi_ciovec_t w = {(const uint8_t *)"x", 1};
    __wasi_size_t got;
    EXPECT_ERRNO("pwrite", __wasi_fd_pwrite(fd, &w, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("seek without FD_SEEK", __wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("FD_READ|FD_FILESTAT_SET_SIZE (no FD_WRITE)", open_with(SANDBOX_FD, "r", 0, R(FD_READ) | R(FD_FILESTAT_SET_SIZE), 0, &fd));
    EXPECT_ERRNO("set_size on it (as ftruncate on a read-only file)", __wasi_fd_filestat_set_size(fd, 1), __WASI_ERRNO_INVAL);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("FD_READ|FD_FILESTAT_GET", open_with(SANDBOX_FD, "r", 0, R(FD_READ) | R(FD_FILESTAT_GET), 0, &fd));
    EXPECT_ERRNO("set_size on a read-only fd", __wasi_fd_filestat_set_size(fd, 1), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(fd, &st));
    EXPECT_U64("size unchanged", st.size, 5);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("FD_WRITE only", open_with(SANDBOX_FD, "r", 0, R(FD_WRITE), 0, &fd));
    EXPECT_ERRNO("read", read_some(fd, buf, sizeof buf, &n), __WASI_ERRNO_BADF);
    EXPECT_OK("write", write_all(fd, "H", 1, &n));
    (void)__wasi_fd_close(fd);
    EXPECT_OK("no rights at all", open_with(SANDBOX_FD, "r", 0, 0, 0, &fd));
    rights_are("no rights", fd, 0, 0);
    EXPECT_ERRNO("read", read_some(fd, buf, sizeof buf, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("fd_filestat_get", __wasi_fd_filestat_get(fd, &st), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(fd);
    EXPECT_STR("content", buf, contents("r", buf, sizeof buf), "Hello");
}

static void creat_and_trunc(void) {
    __wasi_fd_t fd, dir, nodir;
    size_t n;
    char buf[64];

    SECTION("O_CREAT and O_TRUNC do not make an fd writable");
    make_file("t", "0123456789");
    EXPECT_OK("CREAT|TRUNC asking FD_READ|FD_SEEK", open_with(SANDBOX_FD, "t", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R(FD_READ) | R(FD_SEEK), 0, &fd));
    rights_are("CREAT|TRUNC, FD_READ|FD_SEEK", fd, R(FD_READ) | R(FD_SEEK), 0);
    EXPECT_U64("size after TRUNC", size_at("t"), 0);
    EXPECT_ERRNO("write on it", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    make_file("t", "0123456789");
    EXPECT_OK("TRUNC asking only FD_READ", open_with(SANDBOX_FD, "t", __WASI_OFLAGS_TRUNC, R(FD_READ), 0, &fd));
    EXPECT_U64("size after TRUNC", size_at("t"), 0);
    EXPECT_ERRNO("write on it", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("CREAT asking only FD_WRITE", open_with(SANDBOX_FD, "w", __WASI_OFLAGS_CREAT, R(FD_WRITE), 0, &fd));
    EXPECT_OK("write on it", write_all(fd, "abc", 3, &n));
    EXPECT_ERRNO("read on it", read_some(fd, buf, sizeof buf, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_STR("content", buf, contents("w", buf, sizeof buf), "abc");

    SECTION("O_TRUNC through a directory without PATH_FILESTAT_SET_SIZE");
    make_file("big", "0123456789");
    const __wasi_rights_t no_set_size = ~R(PATH_FILESTAT_SET_SIZE);
    /* Asking for FD_WRITE on a directory: EISDIR (as wasmtime, which opens it for writing). */
    EXPECT_ERRNO("open \".\" with all rights but PATH_FILESTAT_SET_SIZE",
                 open_with(SANDBOX_FD, ".", __WASI_OFLAGS_DIRECTORY, RIGHTS_ALL & no_set_size, RIGHTS_ALL, &dir),
                 __WASI_ERRNO_ISDIR);
    EXPECT_OK("open \".\" with directory rights but PATH_FILESTAT_SET_SIZE",
              open_with(SANDBOX_FD, ".", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR & no_set_size, RIGHTS_ALL, &dir));
    rights_are("that directory", dir, RIGHTS_DIR & no_set_size & PREOPEN_INHERITING, RIGHTS_ALL & PREOPEN_INHERITING);
    EXPECT_ERRNO("open big with TRUNC through it", open_with(dir, "big", __WASI_OFLAGS_TRUNC, RIGHTS_RW, RIGHTS_ALL, &fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_U64("big's size", size_at("big"), 10);
    EXPECT_ERRNO("TRUNC asking only FD_READ through it", open_with(dir, "big", __WASI_OFLAGS_TRUNC, R(FD_READ), 0, &fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("CREAT|TRUNC of a new file through it", open_with(dir, "new", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_U64("big's size", size_at("big"), 10);
    __wasi_filestat_t st;
    EXPECT_ERRNO("nothing created", __wasi_path_filestat_get(SANDBOX_FD, 0, "new", &st), __WASI_ERRNO_NOENT);
    EXPECT_OK("open big without TRUNC through it", open_with(dir, "big", 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("set_size 4 through that fd (FD_FILESTAT_SET_SIZE inherited)", __wasi_fd_filestat_set_size(fd, 4));
    EXPECT_U64("big's size", size_at("big"), 4);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("TRUNC through the preopen", open_with(SANDBOX_FD, "big", __WASI_OFLAGS_TRUNC, R(FD_READ), 0, &fd));
    EXPECT_U64("big's size", size_at("big"), 0);
    (void)__wasi_fd_close(fd);
    (void)__wasi_fd_close(dir);

    SECTION("a directory with no rights");
    make_file("big", "0123456789");
    EXPECT_OK("open \".\" with no rights", open_with(SANDBOX_FD, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, &nodir));
    rights_are("directory with no rights", nodir, 0, 0);
    EXPECT_ERRNO("open big through it", open_with(nodir, "big", 0, R(FD_READ), 0, &fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("mkdir through it", __wasi_path_create_directory(nodir, "x"), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("stat through it", __wasi_path_filestat_get(nodir, 0, "big", &st), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("unlink through it", __wasi_path_unlink_file(nodir, "big"), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_U64("big's size", size_at("big"), 10);
    (void)__wasi_fd_close(nodir);
}

static void inheriting(void) {
    __wasi_fd_t dir, sub, fd, before;
    __wasi_fdstat_t fs;
    __wasi_filestat_t st;
    __wasi_filesize_t pos;
    size_t n;
    char buf[64];

    SECTION("a directory opened with rights_inheriting 0 passes on no rights");
    make_dir("d");
    make_dir("d/sub");
    make_file("d/f", "data");
    EXPECT_OK("open d with inheriting 0", open_with(SANDBOX_FD, "d", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &dir));
    rights_are("d", dir, RIGHTS_DIR & PREOPEN_INHERITING, 0);
    EXPECT_OK("stat d/f through it (its own base rights)", __wasi_path_filestat_get(dir, 0, "f", &st));
    EXPECT_OK("open d/f through it asking RIGHTS_RW", open_with(dir, "f", 0, RIGHTS_RW, RIGHTS_ALL, &fd));
    rights_are("d/f", fd, 0, 0);
    EXPECT_ERRNO("read", read_some(fd, buf, sizeof buf, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("seek", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("tell", __wasi_fd_tell(fd, &pos), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_filestat_get", __wasi_fd_filestat_get(fd, &st), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("set_size", __wasi_fd_filestat_set_size(fd, 0), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("set_times", __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_allocate", __wasi_fd_allocate(fd, 0, 1), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_advise", __wasi_fd_advise(fd, 0, 1, __WASI_ADVICE_NORMAL), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO("fd_datasync", __wasi_fd_datasync(fd), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("CREAT d/g through it", open_with(dir, "g", __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    rights_are("d/g", fd, 0, 0);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("open d/sub through it", open_with(dir, "sub", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, RIGHTS_ALL, &sub));
    rights_are("d/sub", sub, 0, 0);
    EXPECT_ERRNO("mkdir through d/sub", __wasi_path_create_directory(sub, "x"), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(sub);
    (void)__wasi_fd_close(dir);
    EXPECT_STR("d/f unchanged", buf, contents("d/f", buf, sizeof buf), "data");

    SECTION("inheriting rights without FD_WRITE");
    const __wasi_rights_t ro = R(FD_READ) | R(FD_SEEK) | R(FD_TELL) | R(FD_FILESTAT_GET);
    EXPECT_OK("open d with read-only inheriting rights", open_with(SANDBOX_FD, "d", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, ro, &dir));
    EXPECT_OK("open d/f through it asking RIGHTS_RW", open_with(dir, "f", 0, RIGHTS_RW, RIGHTS_ALL, &fd));
    rights_are("d/f", fd, RIGHTS_RW & ro, ro);
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_STR("data", buf, n, "data");
    EXPECT_OK("tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset", pos, 4);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("set_size", __wasi_fd_filestat_set_size(fd, 0), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("open d/sub through it with every right", open_with(dir, "sub", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, RIGHTS_ALL, &sub));
    rights_are("d/sub", sub, RIGHTS_DIR & ro, ro);
    (void)__wasi_fd_close(sub);
    (void)__wasi_fd_close(dir);

    SECTION("fd_fdstat_set_rights lowering inheriting rights limits later opens");
    EXPECT_OK("open d with every inheriting right", open_with(SANDBOX_FD, "d", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, RIGHTS_ALL, &dir));
    EXPECT_OK("open d/f through it", open_with(dir, "f", 0, RIGHTS_RW, 0, &before));
    rights_are("d/f", before, RIGHTS_RW, 0);
    EXPECT_OK("fdstat d", __wasi_fd_fdstat_get(dir, &fs));
    const __wasi_rights_t lowered = fs.fs_rights_inheriting & ~(R(FD_WRITE) | R(FD_FILESTAT_SET_SIZE));
    EXPECT_OK("drop FD_WRITE and FD_FILESTAT_SET_SIZE from d's inheriting rights",
              __wasi_fd_fdstat_set_rights(dir, fs.fs_rights_base, lowered));
    rights_are("d", dir, RIGHTS_DIR & PREOPEN_INHERITING, lowered);
    EXPECT_OK("open d/f through it again", open_with(dir, "f", 0, RIGHTS_RW, RIGHTS_ALL, &fd));
    rights_are("d/f", fd, RIGHTS_RW & lowered, RIGHTS_ALL & lowered);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    (void)__wasi_fd_close(fd);
    EXPECT_OK("open d/sub through it", open_with(dir, "sub", __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, RIGHTS_ALL, &sub));
    EXPECT_OK("CREAT d/sub/h through d/sub", open_with(sub, "h", __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    rights_are("d/sub/h", fd, RIGHTS_RW & lowered, 0);
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    (void)__wasi_fd_close(sub);
    EXPECT_OK("the fd opened before still writes", write_all(before, "D", 1, &n));
    (void)__wasi_fd_close(before);
    EXPECT_STR("d/f", buf, contents("d/f", buf, sizeof buf), "Data");
    EXPECT_ERRNO("add FD_WRITE back", __wasi_fd_fdstat_set_rights(dir, fs.fs_rights_base, lowered | R(FD_WRITE)), __WASI_ERRNO_NOTCAPABLE);
    (void)__wasi_fd_close(dir);
}

static void libc_open(void) {
    SECTION("wasi-libc's open() (asks for every right of its access mode)");
    int fd;
    char buf[16];
    EXPECT_LIBC("open O_CREAT|O_WRONLY", fd = open("/sandbox/libc", O_CREAT | O_WRONLY, 0644), 0);
    EXPECT_LIBC("write", write(fd, "abc", 3), 0);
    EXPECT_LIBC("ftruncate", ftruncate(fd, 2), 0);
    EXPECT_LIBC("close", close(fd), 0);
    EXPECT_LIBC("open O_RDWR", fd = open("/sandbox/libc", O_RDWR), 0);
    EXPECT_LIBC("lseek", lseek(fd, 0, SEEK_END), 0);
    EXPECT_LIBC("write", write(fd, "Z", 1), 0);
    EXPECT_LIBC("pread", pread(fd, buf, sizeof buf, 0), 0);
    EXPECT_LIBC("close", close(fd), 0);
    EXPECT_STR("content", buf, contents("libc", buf, sizeof buf), "abZ");
    EXPECT_LIBC("open O_RDONLY", fd = open("/sandbox/libc", O_RDONLY), 0);
    EXPECT_LIBC("write on O_RDONLY", write(fd, "x", 1), EBADF);
    EXPECT_LIBC("close", close(fd), 0);
}

int main(void) {
    exact_rights();
    creat_and_trunc();
    inheriting();
    libc_open();
    return done();
}
