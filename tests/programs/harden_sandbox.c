/* Trying to leave the preopen. The host put a file whose content contains "SECRET" next to
 * the preopened directory (and symlinks in it that point there: "up" -> "../secret.txt",
 * "up2" -> "../../secret.txt", "chain" -> "up"). The program tries
 * `..` in every position, absolute paths, symlinks of its own (relative, absolute, chains,
 * loops, dangling), hard links and renames towards the outside, directory fds whose
 * directory is renamed while open, and every fd number: each attempt must fail (the errno is
 * printed and compared with wasmtime's) and no byte of the secret may ever be read.
 *
 *   harden_sandbox basic    the attempts above (same output under wasmtime)
 *   harden_sandbox moved    wasi.wasm only: the host moves "inner" out of the preopen while
 *                           the program holds an fd on it (triggered by reading stdin)
 *   harden_sandbox fds      only the fd scan: no fd number but its own works (run while
 *                           another process on the same filesystem holds fds)
 */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define PERM __WASI_ERRNO_PERM
#define NOENT __WASI_ERRNO_NOENT

static int leaks;

/* Open and read a path; a read containing "SECRET" is a leak. Returns the errno. */
static __wasi_errno_t try_read(__wasi_fd_t base, const char *path, int follow) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(base, path, follow ? F : 0, 0, __WASI_RIGHTS_FD_READ, 0, &fd);
    if (e) return e;
    char buf[256];
    size_t n = 0;
    e = read_some(fd, buf, sizeof buf - 1, &n);
    buf[n] = 0;
    if (strstr(buf, "SECRET")) {
        printf("LEAK: read the secret through %s\n", path);
        leaks++;
    }
    (void)__wasi_fd_close(fd);
    return e ? e : 0;
}

static void attempt(const char *label, __wasi_fd_t base, const char *path, int follow, int want) {
    char full[160];
    snprintf(full, sizeof full, "read %s%s", label, follow ? "" : " (nofollow)");
    EXPECT_ERRNO(full, try_read(base, path, follow), want);
}

/* Every fd number another process (or the host) might hold: none is usable here. */
static void scan_fds(void) {
    SECTION("fds");
    char buf[16];
    int usable = 0;
    for (__wasi_fd_t i = 4; i < 4096; i++) {
        __wasi_filestat_t st;
        __wasi_size_t used;
        size_t n;
        if (read_some(i, buf, sizeof buf, &n) != __WASI_ERRNO_BADF) usable++;
        if (__wasi_fd_filestat_get(i, &st) != __WASI_ERRNO_BADF) usable++;
        if (__wasi_fd_readdir(i, (uint8_t *)buf, sizeof buf, 0, &used) != __WASI_ERRNO_BADF) usable++;
        if (__wasi_path_filestat_get(i, 0, ".", &st) != __WASI_ERRNO_BADF) usable++;
    }
    EXPECT_U64("fds 4..4095 usable for read, stat, readdir or paths", usable, 0);
    __wasi_prestat_t pre;
    int preopens = 0, open_fds = 0;
    for (__wasi_fd_t i = 0; i < 4096; i++) {
        if (__wasi_fd_prestat_get(i, &pre) == 0) preopens++;
        __wasi_fdstat_t fs;
        if (__wasi_fd_fdstat_get(i, &fs) == 0) open_fds++;
    }
    EXPECT_U64("preopened fds among 0..4095", preopens, 1);
    EXPECT_U64("open fds among 0..4095 (stdio + preopen)", open_fds, 4);
    char name[64];
    EXPECT_OK("prestat dir name", __wasi_fd_prestat_dir_name(SANDBOX_FD, (uint8_t *)name, 8));
    EXPECT_STR("is /sandbox", name, 8, "/sandbox");
    EXPECT_ERRNO("close an fd never opened", __wasi_fd_close(7), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("renumber onto the preopen's neighbour", __wasi_fd_renumber(SANDBOX_FD, 4), __WASI_ERRNO_BADF);
}

static void basic(void) {
    __wasi_filestat_t st;
    __wasi_fd_t inner, deep, fd;
    char buf[128];
    __wasi_size_t used;

    SECTION("dot-dot and absolute paths");
    attempt("../secret.txt", SANDBOX_FD, "../secret.txt", 1, PERM);
    attempt("../../secret.txt", SANDBOX_FD, "../../secret.txt", 1, PERM);
    attempt("inner/../../secret.txt", SANDBOX_FD, "inner/../../secret.txt", 1, PERM);
    attempt("inner/deep/../../../secret.txt", SANDBOX_FD, "inner/deep/../../../secret.txt", 1, PERM);
    attempt("./../secret.txt", SANDBOX_FD, "./../secret.txt", 1, PERM);
    attempt("inner//..//..//secret.txt", SANDBOX_FD, "inner//..//..//secret.txt", 1, PERM);
    attempt("/secret.txt", SANDBOX_FD, "/secret.txt", 1, PERM);
    attempt("//secret.txt", SANDBOX_FD, "//secret.txt", 1, PERM);
    attempt("/../secret.txt", SANDBOX_FD, "/../secret.txt", 1, PERM);
    EXPECT_ERRNO("stat ..", __wasi_path_filestat_get(SANDBOX_FD, 0, "..", &st), PERM);
    EXPECT_ERRNO("open .. as a directory", open_at(SANDBOX_FD, "..", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd), PERM);
    EXPECT_ERRNO("readlink ../x", __wasi_path_readlink(SANDBOX_FD, "../x", (uint8_t *)buf, sizeof buf, &used), PERM);

    SECTION("symlinks the host made");
    attempt("up -> ../secret.txt", SANDBOX_FD, "up", 1, PERM);
    attempt("up2 -> ../../secret.txt", SANDBOX_FD, "up2", 1, PERM);
    attempt("chain -> up", SANDBOX_FD, "chain", 1, PERM);
    attempt("up, not followed", SANDBOX_FD, "up", 0, __WASI_ERRNO_LOOP);
    attempt("inner/up -> ../up", SANDBOX_FD, "inner/up", 1, PERM);
    EXPECT_ERRNO("stat through up/", __wasi_path_filestat_get(SANDBOX_FD, F, "up/", &st), PERM);
    EXPECT_OK("readlink up shows only the link", __wasi_path_readlink(SANDBOX_FD, "up", (uint8_t *)buf, sizeof buf, &used));
    EXPECT_STR("its target", buf, used, "../secret.txt");

    SECTION("symlinks the program makes");
    EXPECT_OK("symlink s1 -> ../secret.txt", __wasi_path_symlink("../secret.txt", SANDBOX_FD, "s1"));
    attempt("s1", SANDBOX_FD, "s1", 1, PERM);
    EXPECT_ERRNO("symlink s2 -> /secret.txt", __wasi_path_symlink("/secret.txt", SANDBOX_FD, "s2"), PERM);
    attempt("s2", SANDBOX_FD, "s2", 1, NOENT);
    EXPECT_OK("symlink inner/s3 -> ../../secret.txt", __wasi_path_symlink("../../secret.txt", SANDBOX_FD, "inner/s3"));
    attempt("inner/s3", SANDBOX_FD, "inner/s3", 1, PERM);
    EXPECT_OK("symlink inner/s4 -> ../inner/../s1", __wasi_path_symlink("../inner/../s1", SANDBOX_FD, "inner/s4"));
    attempt("inner/s4 (chain)", SANDBOX_FD, "inner/s4", 1, PERM);
    EXPECT_OK("symlink dotdot -> ..", __wasi_path_symlink("..", SANDBOX_FD, "dotdot"));
    attempt("dotdot/secret.txt", SANDBOX_FD, "dotdot/secret.txt", 1, PERM);
    attempt("inner/../dotdot/secret.txt", SANDBOX_FD, "inner/../dotdot/secret.txt", 1, PERM);
    EXPECT_OK("symlink inner/dd -> ../..", __wasi_path_symlink("../..", SANDBOX_FD, "inner/dd"));
    attempt("inner/dd/secret.txt", SANDBOX_FD, "inner/dd/secret.txt", 1, PERM);
    EXPECT_OK("symlink loop1 -> loop2", __wasi_path_symlink("loop2", SANDBOX_FD, "loop1"));
    EXPECT_OK("symlink loop2 -> loop1", __wasi_path_symlink("loop1", SANDBOX_FD, "loop2"));
    attempt("loop1", SANDBOX_FD, "loop1", 1, __WASI_ERRNO_LOOP);
    EXPECT_OK("symlink dangling -> nowhere/../../secret.txt", __wasi_path_symlink("nowhere/../../secret.txt", SANDBOX_FD, "dangling"));
    attempt("dangling", SANDBOX_FD, "dangling", 1, NOENT);
    EXPECT_ERRNO("create through s1", open_at(SANDBOX_FD, "s1", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_ERRNO("create through dotdot/", open_at(SANDBOX_FD, "dotdot/new.txt", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), PERM);
    EXPECT_ERRNO("mkdir through dotdot/", __wasi_path_create_directory(SANDBOX_FD, "dotdot/newdir"), PERM);
    EXPECT_ERRNO("unlink through dotdot/", __wasi_path_unlink_file(SANDBOX_FD, "dotdot/secret.txt"), PERM);
    EXPECT_ERRNO("set_times through s1", __wasi_path_filestat_set_times(SANDBOX_FD, F, "s1", 0, 0, __WASI_FSTFLAGS_MTIM_NOW), PERM);

    SECTION("hard links and renames towards the outside");
    EXPECT_ERRNO("link ../secret.txt here", __wasi_path_link(SANDBOX_FD, 0, "../secret.txt", SANDBOX_FD, "hl"), PERM);
    EXPECT_ERRNO("link through dotdot/", __wasi_path_link(SANDBOX_FD, 0, "dotdot/secret.txt", SANDBOX_FD, "hl"), PERM);
    EXPECT_ERRNO("link following s1", __wasi_path_link(SANDBOX_FD, F, "s1", SANDBOX_FD, "hl"), __WASI_ERRNO_INVAL);
    EXPECT_OK("link the symlink up itself", __wasi_path_link(SANDBOX_FD, 0, "up", SANDBOX_FD, "hl"));
    attempt("hl (a link to the symlink)", SANDBOX_FD, "hl", 1, PERM);
    EXPECT_ERRNO("link f out", __wasi_path_link(SANDBOX_FD, 0, "f", SANDBOX_FD, "../f"), PERM);
    EXPECT_ERRNO("rename inner out", __wasi_path_rename(SANDBOX_FD, "inner", SANDBOX_FD, "../inner"), PERM);
    EXPECT_ERRNO("rename the secret in", __wasi_path_rename(SANDBOX_FD, "../secret.txt", SANDBOX_FD, "mine"), PERM);
    EXPECT_ERRNO("rename through dotdot/", __wasi_path_rename(SANDBOX_FD, "dotdot/secret.txt", SANDBOX_FD, "mine"), PERM);
    EXPECT_OK("rename f over the symlink up2", __wasi_path_rename(SANDBOX_FD, "f", SANDBOX_FD, "up2"));
    EXPECT_STR("up2 is now the file", buf, (size_t)slurp("up2", buf, sizeof buf), "inside");

    SECTION("directory fds are roots too, even after their directory moved");
    EXPECT_OK("open inner", open_at(SANDBOX_FD, "inner", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &inner));
    EXPECT_OK("open inner/deep", open_at(SANDBOX_FD, "inner/deep", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &deep));
    attempt("inner-fd ..", inner, "../f", 1, PERM);
    attempt("inner-fd up (-> ../up)", inner, "up", 1, PERM);
    EXPECT_OK("rename inner -> moved/inner", __wasi_path_create_directory(SANDBOX_FD, "moved"));
    EXPECT_OK("rename", __wasi_path_rename(SANDBOX_FD, "inner", SANDBOX_FD, "moved/inner"));
    attempt("deep-fd ../../secret.txt", deep, "../../secret.txt", 1, PERM);
    attempt("deep-fd ../../../secret.txt", deep, "../../../secret.txt", 1, PERM);
    EXPECT_OK("deep-fd still works", __wasi_path_filestat_get(deep, 0, ".", &st));
    EXPECT_OK("inner-fd sees its files", __wasi_path_filestat_get(inner, 0, "deep", &st));
    EXPECT_OK("rename moved -> m2 while both fds are open", __wasi_path_rename(SANDBOX_FD, "moved", SANDBOX_FD, "m2"));
    attempt("inner-fd ../../secret.txt", inner, "../../secret.txt", 1, PERM);
    EXPECT_OK("remove inner/deep while its fd is open", __wasi_path_remove_directory(SANDBOX_FD, "m2/inner/deep"));
    EXPECT_ERRNO("create in the removed directory", open_at(deep, "x", 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), NOENT);
    attempt("removed-fd ..", deep, "../s3", 1, PERM);
    (void)__wasi_fd_close(deep);
    (void)__wasi_fd_close(inner);

    scan_fds();
}

/* wasi.wasm only: the host moves /box/inner to /outside_inner when the program reads stdin. */
static void moved(void) {
    __wasi_fd_t inner, fd;
    __wasi_filestat_t st;
    char c;
    size_t n;
    EXPECT_OK("open inner", open_at(SANDBOX_FD, "inner", 0, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &inner));
    EXPECT_OK("read stdin (the host moves inner out of the preopen)", read_some(0, &c, 1, &n));
    EXPECT_ERRNO("inner is gone from the preopen", __wasi_path_filestat_get(SANDBOX_FD, 0, "inner", &st), NOENT);
    EXPECT_OK("the fd still names the directory", __wasi_path_filestat_get(inner, 0, "deep", &st));
    attempt("inner-fd ../secret.txt", inner, "../secret.txt", 1, PERM);
    attempt("inner-fd ../../secret.txt", inner, "../../secret.txt", 1, PERM);
    attempt("inner-fd up (-> ../up)", inner, "up", 1, PERM);
    attempt("inner-fd deep/../../secret.txt", inner, "deep/../../secret.txt", 1, PERM);
    EXPECT_ERRNO("inner-fd rename deep out", __wasi_path_rename(inner, "deep", inner, "../deep"), PERM);
    EXPECT_ERRNO("inner-fd link ../secret.txt", __wasi_path_link(inner, 0, "../secret.txt", inner, "s"), PERM);
    EXPECT_OK("inner-fd symlink s -> ../secret.txt", __wasi_path_symlink("../secret.txt", inner, "s"));
    EXPECT_ERRNO("inner-fd open s", open_at(inner, "s", F, 0, __WASI_RIGHTS_FD_READ, 0, &fd), PERM);
    (void)__wasi_fd_close(inner);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "moved") == 0) moved();
    else if (argc >= 2 && strcmp(argv[1], "fds") == 0) scan_fds();
    else basic();
    if (leaks) printf("LEAKS: %d\n", leaks);
    return done() || leaks;
}
