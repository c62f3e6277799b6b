/* Hitting the limits the host configured (wasi_wasm.Limits), one section per run:
 *
 *   harden_limits space            ENOSPC: filling the filesystem, then freeing space
 *   harden_limits fds MAX_FDS      EMFILE at MAX_FDS open fds
 *   harden_limits names MAX_NAME MAX_PATH   ENAMETOOLONG just past each limit
 *   harden_limits loop MAX_FOLLOWS ELOOP just past the symlink-expansion limit
 *
 * Each failure leaves everything consistent (the host runs fsck afterwards): existing data is
 * intact, a failed write writes nothing or a short count, a failed open creates nothing, and
 * freeing space or fds makes the next call succeed. */
#include "wasi_test.h"

#define CHUNK 65536
#define KNOWN "data written before the filesystem filled up"

static char chunk[CHUNK];

static void known_intact(const char *label) {
    char buf[128];
    long n = slurp("known", buf, sizeof buf);
    EXPECT_STR(label, buf, n < 0 ? 0 : (size_t)n, KNOWN);
}

static uint64_t size_of(__wasi_fd_t fd) {
    __wasi_filestat_t st;
    if (__wasi_fd_filestat_get(fd, &st)) return (uint64_t)-1;
    return st.size;
}

#define SMALL_FILES 16

/* With the filesystem full, room freed by truncating opens (their small blocks wait in the
   process's block cache, counted as used) must serve the next open that needs a new block
   of fds: it is retried with the lock exclusive, which gives the caches back. */
static void freed_room_serves_an_fd_block(void) {
    __wasi_fd_t fd, held[16];
    int count = 0;
    __wasi_errno_t e = 0;
    while (count < 16 && !(e = open_at(SANDBOX_FD, "known", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd))) held[count++] = fd;
    EXPECT_TRUE("opens fail once the fd table needs a block the full filesystem has no room for", e != 0 && count > 0);
    if (!count) return;
    EXPECT_OK("close one", __wasi_fd_close(held[--count]));
    char name[32];
    for (int i = 0; i < SMALL_FILES; i++) {
        snprintf(name, sizeof name, "small%d", i);
        EXPECT_OK("O_TRUNC open of a small file", open_at(SANDBOX_FD, name, 0, __WASI_OFLAGS_TRUNC, RIGHTS_RW, 0, &fd));
        EXPECT_OK("close it", __wasi_fd_close(fd));
    }
    EXPECT_OK("open into the freed number", open_at(SANDBOX_FD, "known", 0, 0, __WASI_RIGHTS_FD_READ, 0, &held[count++]));
    EXPECT_OK("an open that needs a new fd block uses the room the truncations freed",
              open_at(SANDBOX_FD, "known", 0, 0, __WASI_RIGHTS_FD_READ, 0, &held[count++]));
    while (count) (void)__wasi_fd_close(held[--count]);
}

static int space(void) {
    __wasi_fd_t fd, other;
    __wasi_filestat_t st;
    size_t n = 0;
    make_file("known", KNOWN);
    memset(chunk, 'x', sizeof chunk);
    char small_name[32], small_data[300];
    memset(small_data, 's', sizeof small_data);
    small_data[sizeof small_data - 1] = 0;
    for (int i = 0; i < SMALL_FILES; i++) {
        snprintf(small_name, sizeof small_name, "small%d", i);
        make_file(small_name, small_data);
    }
    EXPECT_OK("create big", open_at(SANDBOX_FD, "big", 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    uint64_t written = 0;
    __wasi_errno_t e = 0;
    for (int i = 0; i < 100000; i++) {
        e = write_all(fd, chunk, sizeof chunk, &n);
        if (e) break;
        written += n;
        if (n < sizeof chunk) {  /* a short count: the next write must fail */
            e = write_all(fd, chunk, sizeof chunk, &n);
            break;
        }
    }
    EXPECT_ERRNO("write until the filesystem is full", e, __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("wrote at least one chunk first", written >= CHUNK);
    EXPECT_TRUE("size is what the writes reported", size_of(fd) == written);
    EXPECT_TRUE("size unchanged by the failed write", size_of(fd) == written);
    /* Whatever room is left (less than a chunk): small writes fill it, then fail too. */
    for (int i = 0; i < CHUNK && (e = write_all(fd, "y", 1, &n)) == 0; i++) written += n;
    EXPECT_ERRNO("1-byte writes until full", e, __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("size is what the writes reported", size_of(fd) == written);
    known_intact("known file intact when full");

    SECTION("everything that needs room fails cleanly");
    /* Metadata comes from small blocks that may still have room: create until it is gone. */
    char name[32];
    int made = 0;
    for (; made < 200000; made++) {
        snprintf(name, sizeof name, "m%d", made);
        e = open_at(SANDBOX_FD, name, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &other);
        if (e) break;
        (void)__wasi_fd_close(other);
    }
    EXPECT_ERRNO("create files until none fits", e, __WASI_ERRNO_NOSPC);
    EXPECT_ERRNO("the failed one does not exist", __wasi_path_filestat_get(SANDBOX_FD, 0, name, &st), __WASI_ERRNO_NOENT);
    for (int i = 0; i < 200000 && !(e = __wasi_path_create_directory(SANDBOX_FD, name)); i++)
        snprintf(name, sizeof name, "dir%d", i);
    EXPECT_ERRNO("mkdir until none fits", e, __WASI_ERRNO_NOSPC);
    for (int i = 0; i < 200000 && !(e = __wasi_path_symlink("known", SANDBOX_FD, name)); i++)
        snprintf(name, sizeof name, "sym%d", i);
    EXPECT_ERRNO("symlink until none fits", e, __WASI_ERRNO_NOSPC);
    EXPECT_ERRNO("allocate 1 MiB more", __wasi_fd_allocate(fd, written, 1 << 20), __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("size unchanged by the failed allocate", size_of(fd) == written);
    __wasi_ciovec_t iov = {(const uint8_t *)"y", 1};
    __wasi_size_t got = 0;
    EXPECT_ERRNO("pwrite 1 MiB past the end", __wasi_fd_pwrite(fd, &iov, 1, written + (1 << 20), &got), __WASI_ERRNO_NOSPC);
    EXPECT_TRUE("size unchanged by the failed pwrite", size_of(fd) == written);
    EXPECT_OK("overwriting existing bytes needs no room", __wasi_fd_pwrite(fd, &iov, 1, 0, &got));
    EXPECT_U64("wrote", got, 1);
    for (int i = 0; i < 200000 && !(e = __wasi_path_link(SANDBOX_FD, 0, "known", SANDBOX_FD, name)); i++)
        snprintf(name, sizeof name, "hard%d", i);
    EXPECT_ERRNO("link until none fits", e, __WASI_ERRNO_NOSPC);
    EXPECT_OK("rename in place still works", __wasi_path_rename(SANDBOX_FD, "known", SANDBOX_FD, "known"));
    freed_room_serves_an_fd_block();
    EXPECT_OK("truncate shrinks", __wasi_fd_filestat_set_size(fd, written / 2));
    EXPECT_OK("close", __wasi_fd_close(fd));

    SECTION("freeing space makes the next write succeed");
    EXPECT_OK("unlink big", __wasi_path_unlink_file(SANDBOX_FD, "big"));
    EXPECT_OK("create again", open_at(SANDBOX_FD, "again", 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    EXPECT_OK("write a chunk", write_all(fd, chunk, sizeof chunk, &n));
    EXPECT_U64("all of it", n, CHUNK);
    EXPECT_OK("mkdir", __wasi_path_create_directory(SANDBOX_FD, "newdir"));
    EXPECT_OK("close", __wasi_fd_close(fd));
    known_intact("known file intact at the end");
    return done();
}

static int fds(int max_fds) {
    __wasi_fd_t fd, last = 0;
    __wasi_filestat_t st;
    make_file("f", "x");
    int opened = 0;
    __wasi_errno_t e = 0;
    for (int i = 0; i < 70000; i++) {
        e = open_at(SANDBOX_FD, "f", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd);
        if (e) break;
        last = fd;
        opened++;
    }
    EXPECT_ERRNO("open until the table is full", e, __WASI_ERRNO_MFILE);
    /* fds 0-2 are stdio and 3 the preopen */
    EXPECT_U64("fds opened", opened, max_fds - 4);
    EXPECT_U64("highest fd", last, max_fds - 1);
    EXPECT_ERRNO("CREAT at EMFILE", open_at(SANDBOX_FD, "new", 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_MFILE);
    EXPECT_ERRNO("creates nothing", __wasi_path_filestat_get(SANDBOX_FD, 0, "new", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("renumber onto an fd past the limit", __wasi_fd_renumber(last, (__wasi_fd_t)max_fds), __WASI_ERRNO_BADF);
    EXPECT_OK("close one", __wasi_fd_close(last));
    EXPECT_OK("open succeeds again", open_at(SANDBOX_FD, "f", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd));
    EXPECT_U64("reusing the freed number", fd, last);
    EXPECT_ERRNO("and the table is full again", open_at(SANDBOX_FD, "f", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd), __WASI_ERRNO_MFILE);
    for (__wasi_fd_t i = 4; i < (__wasi_fd_t)max_fds; i++) (void)__wasi_fd_close(i);
    EXPECT_OK("all closed: open", open_at(SANDBOX_FD, "f", 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd));
    return done();
}

static void fill(char *buf, size_t len, char c) {
    memset(buf, c, len);
    buf[len] = 0;
}

static int names(int max_name, int max_path) {
    static char name[8200], path[8200];
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    make_dir("d");
    fill(name, (size_t)max_name, 'n');
    EXPECT_OK("create a name of the maximum length", open_at(SANDBOX_FD, name, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd));
    (void)__wasi_fd_close(fd);
    EXPECT_OK("stat it", __wasi_path_filestat_get(SANDBOX_FD, 0, name, &st));
    fill(name, (size_t)max_name + 1, 'n');
    EXPECT_ERRNO("create a name one byte longer", open_at(SANDBOX_FD, name, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_ERRNO("mkdir it", __wasi_path_create_directory(SANDBOX_FD, name), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_ERRNO("symlink at it", __wasi_path_symlink("x", SANDBOX_FD, name), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_ERRNO("rename onto it", __wasi_path_rename(SANDBOX_FD, "d", SANDBOX_FD, name), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_ERRNO("stat it", __wasi_path_filestat_get(SANDBOX_FD, 0, name, &st), __WASI_ERRNO_NAMETOOLONG);

    /* "./././.../d": a long path of short components */
    size_t len = (size_t)max_path, pos = 0;
    while (pos + 2 < len - (len % 2 ? 0 : 1)) {
        path[pos++] = '.';
        path[pos++] = '/';
    }
    if (len % 2 == 0) path[pos++] = '/';
    path[pos++] = 'd';
    path[pos] = 0;
    EXPECT_U64("path length", strlen(path), len);
    EXPECT_OK("stat a path of the maximum length", __wasi_path_filestat_get(SANDBOX_FD, 0, path, &st));
    memmove(path + 2, path, len + 1);
    path[0] = '.';
    path[1] = '/';
    EXPECT_ERRNO("stat one two bytes longer", __wasi_path_filestat_get(SANDBOX_FD, 0, path, &st), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_ERRNO("create at it", open_at(SANDBOX_FD, path, 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NAMETOOLONG);

    fill(path, (size_t)max_path + 1, 't');
    EXPECT_ERRNO("symlink with a target longer than the maximum path", __wasi_path_symlink(path, SANDBOX_FD, "long"), __WASI_ERRNO_NAMETOOLONG);
    fill(path, (size_t)max_path - 2, 'a');
    path[0] = 'd';
    path[1] = '/';
    EXPECT_OK("symlink with the longest target", __wasi_path_symlink(path, SANDBOX_FD, "l"));
    EXPECT_ERRNO("expanding it with more path behind it", __wasi_path_filestat_get(SANDBOX_FD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "l/x/y", &st), __WASI_ERRNO_NAMETOOLONG);
    return done();
}

static int loop(int max_follows) {
    char from[16], to[16];
    __wasi_filestat_t st;
    __wasi_fd_t fd;
    make_file("target", "t");
    /* c0 -> target, c1 -> c0, ... : following cK takes K+1 expansions */
    for (int i = 0; i <= max_follows; i++) {
        snprintf(from, sizeof from, "c%d", i);
        if (i == 0) snprintf(to, sizeof to, "target");
        else snprintf(to, sizeof to, "c%d", i - 1);
        if (__wasi_path_symlink(to, SANDBOX_FD, from)) return 2;
    }
    snprintf(from, sizeof from, "c%d", max_follows - 1);
    EXPECT_OK("a chain of the maximum length", __wasi_path_filestat_get(SANDBOX_FD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, from, &st));
    EXPECT_TRUE("reaches the file", st.filetype == __WASI_FILETYPE_REGULAR_FILE);
    snprintf(from, sizeof from, "c%d", max_follows);
    EXPECT_ERRNO("one link longer", __wasi_path_filestat_get(SANDBOX_FD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, from, &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("open it", open_at(SANDBOX_FD, from, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_OK("without following it is just a symlink", __wasi_path_filestat_get(SANDBOX_FD, 0, from, &st));
    EXPECT_OK("symlink self -> self", __wasi_path_symlink("self", SANDBOX_FD, "self"));
    EXPECT_ERRNO("stat self", __wasi_path_filestat_get(SANDBOX_FD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "self", &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("create through self", open_at(SANDBOX_FD, "self", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_OK("symlink ping -> pong/x", __wasi_path_symlink("pong/x", SANDBOX_FD, "ping"));
    EXPECT_OK("symlink pong -> ping", __wasi_path_symlink("ping", SANDBOX_FD, "pong"));
    EXPECT_ERRNO("stat ping", __wasi_path_filestat_get(SANDBOX_FD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "ping", &st), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("mkdir under pong", __wasi_path_create_directory(SANDBOX_FD, "pong/d"), __WASI_ERRNO_LOOP);
    return done();
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "space") == 0) return space();
    if (argc >= 3 && strcmp(argv[1], "fds") == 0) return fds(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "names") == 0) return names(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "loop") == 0) return loop(atoi(argv[2]));
    fprintf(stderr, "usage: harden_limits space | fds N | names MAX_NAME MAX_PATH | loop N\n");
    return 2;
}
