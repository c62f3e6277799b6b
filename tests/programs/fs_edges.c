/* Corner cases of path_open, path_symlink, rename and sizes where runtimes are tempted to
 * differ, with wasmtime-on-Linux's answers: O_CREAT|O_EXCL never follows a symlink,
 * O_CREAT / O_TRUNC asking only FD_READ (whether that fd can write differs: wasmtime yes,
 * wasi.wasm no; see wasi_only_rights.c), the sync fdflags at open, DIRECTORY combined with TRUNC / EXCL, empty symlink targets,
 * sizes beyond 2^63, `.`/`..` as the last component, directory link counts, and
 * directories removed while open. */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define HAS(r, bit) (((r) & (bit)) != 0)

int main(void) {
    __wasi_fd_t fd, g;
    __wasi_fdstat_t fs;
    __wasi_filestat_t st;
    size_t n;
    char buf[64];
    __wasi_size_t used;

    SECTION("O_CREAT|O_EXCL and symlinks");
    EXPECT_OK("dangling symlink", __wasi_path_symlink("target", SANDBOX_FD, "dangling"));
    EXPECT_OK("another dangling symlink", __wasi_path_symlink("target2", SANDBOX_FD, "dangling_excl"));
    EXPECT_ERRNO("CREAT|EXCL on a dangling symlink", open_at(SANDBOX_FD, "dangling_excl", F, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("its target was not created", __wasi_path_filestat_get(SANDBOX_FD, 0, "target2", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("CREAT without follow on a symlink", open_at(SANDBOX_FD, "dangling", 0, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_LOOP);
    EXPECT_ERRNO("mkdir over a dangling symlink", __wasi_path_create_directory(SANDBOX_FD, "dangling"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("stat \"dangling/\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "dangling/", &st), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("create \"dangling/\"", open_at(SANDBOX_FD, "dangling/", F, __WASI_OFLAGS_CREAT, RIGHTS_RW, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("unlink \"dangling/\"", __wasi_path_unlink_file(SANDBOX_FD, "dangling/"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("rename \"dangling/\"", __wasi_path_rename(SANDBOX_FD, "dangling/", SANDBOX_FD, "zz"), __WASI_ERRNO_NOTDIR);
    EXPECT_OK("link a dangling symlink (not followed)", __wasi_path_link(SANDBOX_FD, 0, "dangling", SANDBOX_FD, "dangling2"));
    EXPECT_TYPE("the link is a symlink", stat_path("dangling2", 0).filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    EXPECT_ERRNO("symlink with an empty target", __wasi_path_symlink("", SANDBOX_FD, "empty"), __WASI_ERRNO_NOENT);
    EXPECT_ERRNO("nothing created", __wasi_path_filestat_get(SANDBOX_FD, 0, "empty", &st), __WASI_ERRNO_NOENT);

    SECTION("CREAT and TRUNC asking only FD_READ");
    /* Whether such an fd can write differs (wasmtime: yes, O_CREAT / O_TRUNC open the file
     * for writing; wasi.wasm: no, an fd has exactly the rights asked for): wasi_only_rights.c. */
    EXPECT_OK("CREAT asking only FD_READ", open_at(SANDBOX_FD, "c", F, __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ, 0, &fd));
    EXPECT_TYPE("created", stat_path("c", 0).filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_OK("read", read_some(fd, buf, sizeof buf, &n));
    EXPECT_U64("bytes", n, 0);
    (void)__wasi_fd_close(fd);
    make_file("t", "abc");
    EXPECT_OK("TRUNC asking only FD_READ", open_at(SANDBOX_FD, "t", F, __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_READ, 0, &fd));
    EXPECT_U64("size after TRUNC", stat_path("t", 0).size, 0);
    (void)__wasi_fd_close(fd);
    EXPECT_OK("FD_READ only, no oflags", open_at(SANDBOX_FD, "t", F, 0, __WASI_RIGHTS_FD_READ, 0, &fd));
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_FALSE("has FD_WRITE", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_ERRNO("write", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);

    SECTION("open flags");
    EXPECT_ERRNO("open DSYNC", open_at(SANDBOX_FD, "t", F, 0, RIGHTS_RW, __WASI_FDFLAGS_DSYNC, &fd), __WASI_ERRNO_NOTSUP);
    EXPECT_ERRNO("open SYNC", open_at(SANDBOX_FD, "t", F, 0, RIGHTS_RW, __WASI_FDFLAGS_SYNC, &fd), __WASI_ERRNO_NOTSUP);
    EXPECT_ERRNO("open RSYNC", open_at(SANDBOX_FD, "t", F, 0, RIGHTS_RW, __WASI_FDFLAGS_RSYNC, &fd), __WASI_ERRNO_NOTSUP);
    EXPECT_OK("open NONBLOCK", open_at(SANDBOX_FD, "t", F, 0, RIGHTS_RW, __WASI_FDFLAGS_NONBLOCK, &fd));
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_U64("flags", fs.fs_flags, __WASI_FDFLAGS_NONBLOCK);
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("EXCL without CREAT on a missing file", open_at(SANDBOX_FD, "missing", F, __WASI_OFLAGS_EXCL, RIGHTS_RW, 0, &fd), __WASI_ERRNO_NOENT);
    make_dir("d");
    EXPECT_ERRNO("DIRECTORY|TRUNC", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_TRUNC, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("DIRECTORY|EXCL", open_at(SANDBOX_FD, "d", F, __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_EXCL, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("CREAT on \".\"", open_at(SANDBOX_FD, ".", F, __WASI_OFLAGS_CREAT, RIGHTS_DIR, 0, &fd), __WASI_ERRNO_ISDIR);
    EXPECT_OK("open \"d/..\" as a directory", open_at(SANDBOX_FD, "d/..", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd));
    (void)__wasi_fd_close(fd);

    SECTION("dot components last");
    make_dir("d/s1");
    make_dir("d/s2");
    EXPECT_ERRNO("mkdir \"d/s1/..\"", __wasi_path_create_directory(SANDBOX_FD, "d/s1/.."), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("mkdir \"d/.\"", __wasi_path_create_directory(SANDBOX_FD, "d/."), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("rmdir \"d/s1/.\"", __wasi_path_remove_directory(SANDBOX_FD, "d/s1/."), __WASI_ERRNO_INVAL);
    EXPECT_ERRNO("unlink \".\"", __wasi_path_unlink_file(SANDBOX_FD, "."), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("unlink \"d/..\"", __wasi_path_unlink_file(SANDBOX_FD, "d/.."), __WASI_ERRNO_ISDIR);
    EXPECT_ERRNO("link to \"d/\"", __wasi_path_link(SANDBOX_FD, 0, "t", SANDBOX_FD, "d/"), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("link \".\"", __wasi_path_link(SANDBOX_FD, 0, ".", SANDBOX_FD, "x"), __WASI_ERRNO_PERM);
    EXPECT_ERRNO("symlink at \".\"", __wasi_path_symlink("x", SANDBOX_FD, "."), __WASI_ERRNO_EXIST);
    EXPECT_ERRNO("rename onto \".\"", __wasi_path_rename(SANDBOX_FD, "d", SANDBOX_FD, "."), __WASI_ERRNO_BUSY);
    EXPECT_ERRNO("rename onto \"d/s2/.\"", __wasi_path_rename(SANDBOX_FD, "d/s2", SANDBOX_FD, "d/s2/."), __WASI_ERRNO_BUSY);
    EXPECT_ERRNO("rename \"d/..\"", __wasi_path_rename(SANDBOX_FD, "d/..", SANDBOX_FD, "x"), __WASI_ERRNO_BUSY);
    EXPECT_ERRNO("readlink \".\"", __wasi_path_readlink(SANDBOX_FD, ".", (uint8_t *)buf, sizeof buf, &used), __WASI_ERRNO_INVAL);
    EXPECT_OK("set_times \".\"", __wasi_path_filestat_set_times(SANDBOX_FD, 0, ".", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    EXPECT_OK("stat \"d/.\"", __wasi_path_filestat_get(SANDBOX_FD, 0, "d/.", &st));

    SECTION("directory link counts");
    EXPECT_U64("d with two subdirs", stat_path("d", 0).nlink, 4);
    EXPECT_OK("rename empty s1 over empty s2", __wasi_path_rename(SANDBOX_FD, "d/s1", SANDBOX_FD, "d/s2"));
    EXPECT_U64("d with one subdir", stat_path("d", 0).nlink, 3);
    EXPECT_OK("rmdir d/s2", __wasi_path_remove_directory(SANDBOX_FD, "d/s2"));
    EXPECT_U64("d with no subdir", stat_path("d", 0).nlink, 2);
    EXPECT_U64("sandbox with one subdir", stat_path(".", 0).nlink, 3);
    EXPECT_OK("mkdir e", __wasi_path_create_directory(SANDBOX_FD, "e"));
    EXPECT_U64("sandbox with two subdirs", stat_path(".", 0).nlink, 4);
    EXPECT_OK("move e into d", __wasi_path_rename(SANDBOX_FD, "e", SANDBOX_FD, "d/e"));
    EXPECT_U64("sandbox", stat_path(".", 0).nlink, 3);
    EXPECT_U64("d", stat_path("d", 0).nlink, 3);

    SECTION("removed while open");
    make_dir("gone");
    make_file("gone/x", "x");
    EXPECT_OK("open gone", open_at(SANDBOX_FD, "gone", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &g));
    EXPECT_OK("unlink gone/x", __wasi_path_unlink_file(SANDBOX_FD, "gone/x"));
    EXPECT_OK("rmdir gone", __wasi_path_remove_directory(SANDBOX_FD, "gone"));
    EXPECT_OK("fd_filestat_get", __wasi_fd_filestat_get(g, &st));
    EXPECT_U64("nlink of a removed dir", st.nlink, 0);
    EXPECT_OK("readdir of a removed dir", __wasi_fd_readdir(g, (uint8_t *)buf, sizeof buf, 0, &used));
    EXPECT_ERRNO("mkdir inside", __wasi_path_create_directory(g, "x"), __WASI_ERRNO_NOENT);
    EXPECT_OK("stat \".\" inside", __wasi_path_filestat_get(g, 0, ".", &st));
    EXPECT_ERRNO("stat \"..\" inside", __wasi_path_filestat_get(g, 0, "..", &st), __WASI_ERRNO_PERM);
    (void)__wasi_fd_close(g);

    SECTION("huge sizes and offsets");
    EXPECT_OK("open t", open_at(SANDBOX_FD, "t", F, 0, RIGHTS_RW, __WASI_FDFLAGS_APPEND, &fd));
    EXPECT_OK("write", write_all(fd, "abc", 3, &n));
    EXPECT_OK("set_size 1 on an APPEND fd", __wasi_fd_filestat_set_size(fd, 1));
    EXPECT_OK("append", write_all(fd, "Z", 1, &n));
    EXPECT_STR("content", buf, (size_t)slurp("t", buf, sizeof buf), "aZ");
    __wasi_filesize_t pos;
    EXPECT_OK("tell", __wasi_fd_tell(fd, &pos));
    EXPECT_U64("offset", pos, 2);
    EXPECT_ERRNO("set_size 2^63 - 1", __wasi_fd_filestat_set_size(fd, 0x7fffffffffffffffULL), __WASI_ERRNO_FBIG);
    EXPECT_ERRNO("set_size 2^63", __wasi_fd_filestat_set_size(fd, 0x8000000000000000ULL), __WASI_ERRNO_INVAL);
    EXPECT_OK("seek to 2^63 - 1", __wasi_fd_seek(fd, 0x7fffffffffffffffLL, __WASI_WHENCE_SET, &pos));
    EXPECT_U64("offset", pos, 0x7fffffffffffffffULL);
    __wasi_iovec_t iov = {(uint8_t *)buf, 1};
    __wasi_size_t got;
    EXPECT_OK("pread at 2^62", __wasi_fd_pread(fd, &iov, 1, 0x4000000000000000ULL, &got));
    EXPECT_U64("bytes", got, 0);
    EXPECT_STR("file intact", buf, (size_t)slurp("t", buf, sizeof buf), "aZ");
    (void)__wasi_fd_close(fd);
    return done();
}
