/* Raw wasi_snapshot_preview1 imports with plain i32/i64 parameters, so a program can pass
 * any pointer, length, whence, clock id or flag value (wasi-libc's typed wrappers would
 * compute strlen of a path, or narrow an enum). Used by the wasi_only_* programs. */
#ifndef WASI_RAW_H
#define WASI_RAW_H
#include <stdint.h>

#define RAW(name) __attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__(#name)))
typedef int32_t i32;
typedef int64_t i64;

i32 raw_args_get(i32 argv, i32 buf) RAW(args_get);
i32 raw_args_sizes_get(i32 count, i32 size) RAW(args_sizes_get);
i32 raw_environ_get(i32 env, i32 buf) RAW(environ_get);
i32 raw_environ_sizes_get(i32 count, i32 size) RAW(environ_sizes_get);
i32 raw_clock_res_get(i32 id, i32 out) RAW(clock_res_get);
i32 raw_clock_time_get(i32 id, i64 precision, i32 out) RAW(clock_time_get);
i32 raw_fd_advise(i32 fd, i64 offset, i64 len, i32 advice) RAW(fd_advise);
i32 raw_fd_allocate(i32 fd, i64 offset, i64 len) RAW(fd_allocate);
i32 raw_fd_fdstat_get(i32 fd, i32 out) RAW(fd_fdstat_get);
i32 raw_fd_fdstat_set_rights(i32 fd, i64 base, i64 inheriting) RAW(fd_fdstat_set_rights);
i32 raw_fd_filestat_get(i32 fd, i32 out) RAW(fd_filestat_get);
i32 raw_fd_pread(i32 fd, i32 iovs, i32 iovs_len, i64 offset, i32 nread) RAW(fd_pread);
i32 raw_fd_prestat_get(i32 fd, i32 out) RAW(fd_prestat_get);
i32 raw_fd_prestat_dir_name(i32 fd, i32 buf, i32 len) RAW(fd_prestat_dir_name);
i32 raw_fd_pwrite(i32 fd, i32 iovs, i32 iovs_len, i64 offset, i32 nwritten) RAW(fd_pwrite);
i32 raw_fd_read(i32 fd, i32 iovs, i32 iovs_len, i32 nread) RAW(fd_read);
i32 raw_fd_readdir(i32 fd, i32 buf, i32 len, i64 cookie, i32 used) RAW(fd_readdir);
i32 raw_fd_seek(i32 fd, i64 offset, i32 whence, i32 out) RAW(fd_seek);
i32 raw_fd_tell(i32 fd, i32 out) RAW(fd_tell);
i32 raw_fd_write(i32 fd, i32 iovs, i32 iovs_len, i32 nwritten) RAW(fd_write);
i32 raw_path_create_directory(i32 fd, i32 path, i32 len) RAW(path_create_directory);
i32 raw_path_filestat_get(i32 fd, i32 flags, i32 path, i32 len, i32 out) RAW(path_filestat_get);
i32 raw_path_filestat_set_times(i32 fd, i32 flags, i32 path, i32 len, i64 atim, i64 mtim, i32 fst) RAW(path_filestat_set_times);
i32 raw_path_link(i32 ofd, i32 flags, i32 opath, i32 olen, i32 nfd, i32 npath, i32 nlen) RAW(path_link);
i32 raw_path_open(i32 fd, i32 dirflags, i32 path, i32 len, i32 oflags, i64 base, i64 inheriting, i32 fdflags, i32 out) RAW(path_open);
i32 raw_path_readlink(i32 fd, i32 path, i32 len, i32 buf, i32 buf_len, i32 used) RAW(path_readlink);
i32 raw_path_remove_directory(i32 fd, i32 path, i32 len) RAW(path_remove_directory);
i32 raw_path_rename(i32 ofd, i32 opath, i32 olen, i32 nfd, i32 npath, i32 nlen) RAW(path_rename);
i32 raw_path_symlink(i32 opath, i32 olen, i32 fd, i32 npath, i32 nlen) RAW(path_symlink);
i32 raw_path_unlink_file(i32 fd, i32 path, i32 len) RAW(path_unlink_file);
i32 raw_poll_oneoff(i32 in, i32 out, i32 n, i32 nevents) RAW(poll_oneoff);
i32 raw_random_get(i32 buf, i32 len) RAW(random_get);
i32 raw_sock_recv(i32 fd, i32 iovs, i32 iovs_len, i32 flags, i32 nread, i32 roflags) RAW(sock_recv);
i32 raw_sock_send(i32 fd, i32 iovs, i32 iovs_len, i32 flags, i32 nwritten) RAW(sock_send);
i32 raw_sock_accept(i32 fd, i32 flags, i32 out) RAW(sock_accept);

/* A guest address as an i32 (wasm32 pointers are 32-bit). */
#define P(ptr) ((i32)(uintptr_t)(ptr))
#endif
