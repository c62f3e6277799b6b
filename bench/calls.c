/* One WASI call sequence repeated: `calls NAME COUNT`, in the preopened directory fd 3.
   bench/ops.py runs it at two counts and counts the wasm operations the difference took
   (wasmtime's fuel), so each sequence's cost is exact and free of timing noise. Raw
   wasi_snapshot_preview1 calls, not libc's: libc's own work (an open's fdstat_get of the
   directory, its preopen lookup) would blur what the core does. "loop" is the empty
   sequence: what the loop itself costs, which ops.py subtracts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define DIR_FD 3

static char data[100];
static char bulk[200 * 1024];
static __wasi_fd_t own_fd; /* "f": 64 bytes, open for reading and writing */

static void must(__wasi_errno_t err, const char *what) {
    if (err) {
        fprintf(stderr, "calls: %s: errno %u\n", what, err);
        exit(1);
    }
}

static __wasi_fd_t open_file(const char *name, __wasi_oflags_t oflags, __wasi_rights_t rights) {
    __wasi_fd_t fd;
    must(__wasi_path_open(DIR_FD, 0, name, oflags, rights, 0, 0, &fd), name);
    return fd;
}

static void write_data(__wasi_fd_t fd, size_t len) {
    __wasi_ciovec_t iov = { (const uint8_t *)data, len };
    __wasi_size_t written;
    must(__wasi_fd_write(fd, &iov, 1, &written), "write");
}

static void empty(void) {}

static void fdstat(void) {
    __wasi_fdstat_t st;
    must(__wasi_fd_fdstat_get(DIR_FD, &st), "fdstat");
}

static void path_stat(void) {
    __wasi_filestat_t st;
    must(__wasi_path_filestat_get(DIR_FD, 0, "f", &st), "stat");
}

static void open_close(void) { must(__wasi_fd_close(open_file("f", 0, __WASI_RIGHTS_FD_READ)), "close"); }

static void pread16(void) {
    uint8_t buf[16];
    __wasi_iovec_t iov = { buf, sizeof buf };
    __wasi_size_t got;
    must(__wasi_fd_pread(own_fd, &iov, 1, 16, &got), "pread");
}

static void pwrite16(void) {
    __wasi_ciovec_t iov = { (const uint8_t *)data, 16 };
    __wasi_size_t written;
    must(__wasi_fd_pwrite(own_fd, &iov, 1, 16, &written), "pwrite");
}

/* A new file each time: create, write 100 bytes, close, unlink (bench.c create_unlink). */
static void create_unlink(void) {
    __wasi_fd_t fd = open_file("c", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE);
    write_data(fd, sizeof data);
    must(__wasi_fd_close(fd), "close");
    must(__wasi_path_unlink_file(DIR_FD, "c"), "unlink");
}

/* The same file emptied and written again (bench.c rewrite). */
static void rewrite(void) {
    __wasi_fd_t fd = open_file("r", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE);
    write_data(fd, sizeof data);
    must(__wasi_fd_close(fd), "close");
}

/* The same file emptied and 200 KiB written again in one call: four chunks' slots filled
   under the lock shared. */
static void rewrite_bulk(void) {
    __wasi_fd_t fd = open_file("b", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE);
    __wasi_ciovec_t iov = { (const uint8_t *)bulk, sizeof bulk };
    __wasi_size_t written;
    must(__wasi_fd_write(fd, &iov, 1, &written), "write");
    must(__wasi_fd_close(fd), "close");
}

static void rename_twice(void) {
    must(__wasi_path_rename(DIR_FD, "f", DIR_FD, "g"), "rename");
    must(__wasi_path_rename(DIR_FD, "g", DIR_FD, "f"), "rename back");
}

static void mkdir_rmdir(void) {
    must(__wasi_path_create_directory(DIR_FD, "d"), "mkdir");
    must(__wasi_path_remove_directory(DIR_FD, "d"), "rmdir");
}

static void read_dir(void) {
    uint8_t buf[1024];
    __wasi_size_t used;
    must(__wasi_fd_readdir(DIR_FD, buf, sizeof buf, 0, &used), "readdir");
}

static const struct {
    const char *name;
    void (*run)(void);
} sequences[] = {
    { "loop", empty },         { "fdstat", fdstat },       { "stat", path_stat },
    { "open_close", open_close }, { "pread16", pread16 },  { "pwrite16", pwrite16 },
    { "create_unlink", create_unlink }, { "rewrite", rewrite }, { "rewrite_bulk", rewrite_bulk },
    { "rename", rename_twice },
    { "mkdir_rmdir", mkdir_rmdir }, { "readdir", read_dir },
};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: calls NAME COUNT\n");
        return 2;
    }
    memset(data, 'd', sizeof data);
    own_fd = open_file("f", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE);
    write_data(own_fd, 64);
    long count = atol(argv[2]);
    for (size_t i = 0; i < sizeof sequences / sizeof sequences[0]; i++) {
        if (strcmp(argv[1], sequences[i].name) != 0) continue;
        for (long n = 0; n < count; n++) sequences[i].run();
        return 0;
    }
    fprintf(stderr, "calls: no sequence %s\n", argv[1]);
    return 2;
}
