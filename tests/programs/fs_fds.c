/* fd table: fd_fdstat_get (types, flags, rights relations), fd_fdstat_set_flags,
 * rights enforcement (read-only / write-only fds), fd_fdstat_set_rights's error path,
 * fd_renumber, fd_close, fd_prestat_get, fd_prestat_dir_name.
 * Raw rights values are runtime-specific and not printed (wasi.wasm: exactly the rights
 * asked for, see wasi_only_rights.c), so each fd asks for every right it then uses;
 * set_rights's success path is in wasi_only_allocate_rights.c (wasmtime gives ENOTSUP). */
#include "wasi_test.h"

#define F __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define HAS(r, bit) (((r) & (bit)) != 0)

int main(void) {
    __wasi_fdstat_t fs;
    __wasi_fd_t fd, ro, wo, rw;
    char buf[64];
    size_t n;

    SECTION("fdstat");
    make_file("f", "content");
    EXPECT_OK("fdstat preopen", __wasi_fd_fdstat_get(SANDBOX_FD, &fs));
    EXPECT_TYPE("preopen type", fs.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_U64("preopen flags", fs.fs_flags, 0);
    EXPECT_TRUE("preopen can path_open", HAS(fs.fs_rights_base, __WASI_RIGHTS_PATH_OPEN));
    EXPECT_TRUE("preopen can readdir", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READDIR));
    EXPECT_TRUE("preopen inheriting allows read+write", HAS(fs.fs_rights_inheriting, __WASI_RIGHTS_FD_READ) && HAS(fs.fs_rights_inheriting, __WASI_RIGHTS_FD_WRITE));
    EXPECT_OK("open read-only", open_at(SANDBOX_FD, "f", F, 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK, 0, &ro));
    EXPECT_OK("fdstat read-only", __wasi_fd_fdstat_get(ro, &fs));
    EXPECT_TYPE("type", fs.fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
    EXPECT_TRUE("has FD_READ", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ));
    EXPECT_FALSE("has FD_WRITE", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    /* FD_TELL too: the renumber section tells its offset (wasmtime grants every right of the
     * access mode, wasi.wasm exactly those asked for). */
    EXPECT_OK("open write-only", open_at(SANDBOX_FD, "f", F, 0, __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL, 0, &wo));
    EXPECT_OK("fdstat write-only", __wasi_fd_fdstat_get(wo, &fs));
    EXPECT_FALSE("has FD_READ", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ));
    EXPECT_TRUE("has FD_WRITE", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_OK("open read-write append", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, __WASI_FDFLAGS_APPEND, &rw));
    EXPECT_OK("fdstat read-write", __wasi_fd_fdstat_get(rw, &fs));
    EXPECT_TRUE("has FD_READ and FD_WRITE", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ) && HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_U64("flags (APPEND)", fs.fs_flags, __WASI_FDFLAGS_APPEND);
    EXPECT_OK("open dir", open_at(SANDBOX_FD, ".", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd));
    EXPECT_OK("fdstat dir", __wasi_fd_fdstat_get(fd, &fs));
    EXPECT_TYPE("type", fs.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    EXPECT_FALSE("dir has FD_WRITE", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE));
    EXPECT_TRUE("dir has PATH_CREATE_FILE", HAS(fs.fs_rights_base, __WASI_RIGHTS_PATH_CREATE_FILE));
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("fdstat bad fd", __wasi_fd_fdstat_get(99, &fs), __WASI_ERRNO_BADF);

    SECTION("rights enforcement");
    EXPECT_OK("read on read-only", read_some(ro, buf, sizeof buf, &n));
    EXPECT_STR("data", buf, n, "content");
    EXPECT_ERRNO("write on read-only", write_all(ro, "x", 1, &n), __WASI_ERRNO_BADF);
    __wasi_ciovec_t w = {(const uint8_t *)"x", 1};
    __wasi_size_t got;
    EXPECT_ERRNO("pwrite on read-only", __wasi_fd_pwrite(ro, &w, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("read on write-only", read_some(wo, buf, sizeof buf, &n), __WASI_ERRNO_BADF);
    __wasi_iovec_t r = {(uint8_t *)buf, sizeof buf};
    EXPECT_ERRNO("pread on write-only", __wasi_fd_pread(wo, &r, 1, 0, &got), __WASI_ERRNO_BADF);
    EXPECT_OK("write on write-only", write_all(wo, "C", 1, &n));
    EXPECT_STR("file", buf, (size_t)slurp("f", buf, sizeof buf), "Content");
    EXPECT_OK("open with no rights", open_at(SANDBOX_FD, "f", F, 0, 0, 0, &fd));
    EXPECT_ERRNO("write with no rights", write_all(fd, "x", 1, &n), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_STR("file unchanged", buf, (size_t)slurp("f", buf, sizeof buf), "Content");
    EXPECT_LIBC("libc open O_RDONLY", fd = (__wasi_fd_t)open("/sandbox/f", O_RDONLY), 0);
    EXPECT_LIBC("libc write on O_RDONLY", write((int)fd, "x", 1), EBADF);
    EXPECT_LIBC("libc close", close((int)fd), 0);
    EXPECT_LIBC("libc open O_WRONLY", fd = (__wasi_fd_t)open("/sandbox/f", O_WRONLY), 0);
    EXPECT_LIBC("libc read on O_WRONLY", read((int)fd, buf, 1), EBADF);
    EXPECT_LIBC("libc close", close((int)fd), 0);

    SECTION("set_flags");
    EXPECT_OK("clear APPEND", __wasi_fd_fdstat_set_flags(rw, 0));
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(rw, &fs));
    EXPECT_U64("flags", fs.fs_flags, 0);
    __wasi_filesize_t pos;
    EXPECT_OK("seek 0", __wasi_fd_seek(rw, 0, __WASI_WHENCE_SET, &pos));
    EXPECT_OK("write at 0 without APPEND", write_all(rw, "K", 1, &n));
    EXPECT_STR("file", buf, (size_t)slurp("f", buf, sizeof buf), "Kontent");
    EXPECT_OK("set APPEND", __wasi_fd_fdstat_set_flags(rw, __WASI_FDFLAGS_APPEND));
    EXPECT_OK("seek 0", __wasi_fd_seek(rw, 0, __WASI_WHENCE_SET, &pos));
    EXPECT_OK("write with APPEND", write_all(rw, "!", 1, &n));
    EXPECT_STR("file", buf, (size_t)slurp("f", buf, sizeof buf), "Kontent!");
    EXPECT_OK("set NONBLOCK", __wasi_fd_fdstat_set_flags(rw, __WASI_FDFLAGS_NONBLOCK));
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(rw, &fs));
    EXPECT_U64("flags", fs.fs_flags, __WASI_FDFLAGS_NONBLOCK);
    EXPECT_ERRNO("set SYNC", __wasi_fd_fdstat_set_flags(rw, __WASI_FDFLAGS_SYNC), __WASI_ERRNO_INVAL);
    EXPECT_OK("fdstat", __wasi_fd_fdstat_get(rw, &fs));
    EXPECT_U64("flags unchanged", fs.fs_flags, __WASI_FDFLAGS_NONBLOCK);
    EXPECT_ERRNO("set_flags bad fd", __wasi_fd_fdstat_set_flags(99, 0), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("set_flags on dir", __wasi_fd_fdstat_set_flags(SANDBOX_FD, 0), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("set_rights bad fd", __wasi_fd_fdstat_set_rights(99, 0, 0), __WASI_ERRNO_BADF);
    EXPECT_LIBC("libc fcntl F_GETFL", fcntl((int)rw, F_GETFL), 0);

    SECTION("renumber");
    EXPECT_OK("renumber fd to itself", __wasi_fd_renumber(ro, ro));
    EXPECT_OK("renumber wo -> ro", __wasi_fd_renumber(wo, ro));
    EXPECT_ERRNO("old number closed", __wasi_fd_fdstat_get(wo, &fs), __WASI_ERRNO_BADF);
    EXPECT_OK("fdstat renumbered", __wasi_fd_fdstat_get(ro, &fs));
    EXPECT_TRUE("ro now has wo's rights (write, no read)", HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_WRITE) && !HAS(fs.fs_rights_base, __WASI_RIGHTS_FD_READ));
    EXPECT_OK("tell keeps the offset", __wasi_fd_tell(ro, &pos));
    EXPECT_U64("offset", pos, 1);
    EXPECT_ERRNO("renumber from bad fd", __wasi_fd_renumber(99, ro), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("renumber to unopened fd", __wasi_fd_renumber(ro, 200), __WASI_ERRNO_BADF);
    EXPECT_OK("fd survives failed renumber", __wasi_fd_fdstat_get(ro, &fs));
    EXPECT_OK("open another", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    EXPECT_OK("renumber onto another open fd", __wasi_fd_renumber(ro, fd));
    EXPECT_OK("write via renumbered", write_all(fd, "Q", 1, &n));
    EXPECT_STR("file", buf, (size_t)slurp("f", buf, sizeof buf), "KQntent!");
    (void)__wasi_fd_close(fd);
    (void)__wasi_fd_close(rw);

    SECTION("prestat");
    __wasi_prestat_t ps;
    EXPECT_OK("prestat_get preopen", __wasi_fd_prestat_get(SANDBOX_FD, &ps));
    EXPECT_U64("tag (dir)", ps.tag, __WASI_PREOPENTYPE_DIR);
    EXPECT_U64("name length", ps.u.dir.pr_name_len, 8);
    char name[32];
    memset(name, '#', sizeof name);
    EXPECT_OK("prestat_dir_name", __wasi_fd_prestat_dir_name(SANDBOX_FD, (uint8_t *)name, ps.u.dir.pr_name_len));
    EXPECT_STR("name", name, ps.u.dir.pr_name_len, "/sandbox");
    EXPECT_TRUE("no byte written past the length", name[8] == '#');
    EXPECT_ERRNO("prestat_dir_name buffer too small", __wasi_fd_prestat_dir_name(SANDBOX_FD, (uint8_t *)name, 3), __WASI_ERRNO_NAMETOOLONG);
    EXPECT_OK("prestat_dir_name big buffer", __wasi_fd_prestat_dir_name(SANDBOX_FD, (uint8_t *)name, sizeof name));
    EXPECT_ERRNO("prestat_get stdin", __wasi_fd_prestat_get(0, &ps), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("prestat_get fd 4 (none)", __wasi_fd_prestat_get(4, &ps), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("prestat_get bad fd", __wasi_fd_prestat_get(99, &ps), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("prestat_dir_name bad fd", __wasi_fd_prestat_dir_name(99, (uint8_t *)name, sizeof name), __WASI_ERRNO_BADF);
    EXPECT_OK("open a dir", open_at(SANDBOX_FD, ".", F, __WASI_OFLAGS_DIRECTORY, RIGHTS_DIR, 0, &fd));
    EXPECT_ERRNO("prestat_get on an opened (non-preopen) dir", __wasi_fd_prestat_get(fd, &ps), __WASI_ERRNO_BADF);
    EXPECT_OK("renumber dir onto the preopen", __wasi_fd_renumber(fd, SANDBOX_FD));
    EXPECT_ERRNO("prestat_get after renumber over it", __wasi_fd_prestat_get(SANDBOX_FD, &ps), __WASI_ERRNO_BADF);
    EXPECT_OK("path_open still works on fd 3", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd));
    (void)__wasi_fd_close(fd);

    SECTION("close");
    EXPECT_OK("close the preopen", __wasi_fd_close(SANDBOX_FD));
    EXPECT_ERRNO("path_open on closed preopen", open_at(SANDBOX_FD, "f", F, 0, RIGHTS_RW, 0, &fd), __WASI_ERRNO_BADF);
    EXPECT_OK("close stdin", __wasi_fd_close(0));
    EXPECT_ERRNO("read closed stdin", read_some(0, buf, 1, &n), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("close stdin again", __wasi_fd_close(0), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("close fd 2^31", __wasi_fd_close(0x80000000u), __WASI_ERRNO_BADF);
    EXPECT_ERRNO("close fd -1", __wasi_fd_close(0xffffffffu), __WASI_ERRNO_BADF);
    return done();
}
