/* The core functions the fuzzer calls, as the native build defines them. */
#ifndef FUZZ_CORE_API_H
#define FUZZ_CORE_API_H

#include <stdint.h>

int32_t wasi_args_sizes_get(uint32_t argc_out, uint32_t size_out);
int32_t wasi_args_get(uint32_t argv, uint32_t buf);
int32_t wasi_environ_sizes_get(uint32_t count_out, uint32_t size_out);
int32_t wasi_environ_get(uint32_t environ, uint32_t buf);
int32_t wasi_fd_close(uint32_t fd);
int32_t wasi_fd_seek(uint32_t fd, int64_t offset, uint32_t whence, uint32_t out);
int32_t wasi_fd_tell(uint32_t fd, uint32_t out);
int32_t wasi_fd_fdstat_get(uint32_t fd, uint32_t out);
int32_t wasi_fd_fdstat_set_flags(uint32_t fd, uint32_t flags);
int32_t wasi_fd_fdstat_set_rights(uint32_t fd, uint64_t base, uint64_t inheriting);
int32_t wasi_fd_filestat_get(uint32_t fd, uint32_t out);
int32_t wasi_fd_filestat_set_size(uint32_t fd, uint64_t size);
int32_t wasi_fd_filestat_set_times(uint32_t fd, uint64_t atim, uint64_t mtim, uint32_t flags);
int32_t wasi_fd_advise(uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice);
int32_t wasi_fd_allocate(uint32_t fd, uint64_t offset, uint64_t len);
int32_t wasi_fd_datasync(uint32_t fd);
int32_t wasi_fd_sync(uint32_t fd);
int32_t wasi_fd_prestat_get(uint32_t fd, uint32_t out);
int32_t wasi_fd_prestat_dir_name(uint32_t fd, uint32_t buf, uint32_t len);
int32_t wasi_fd_renumber(uint32_t from, uint32_t to);
int32_t wasi_fd_readdir(uint32_t fd, uint32_t buf, uint32_t len, uint64_t cookie, uint32_t out);
int32_t wasi_fd_write(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t out);
int32_t wasi_fd_pwrite(uint32_t fd, uint32_t iovs, uint32_t count, uint64_t offset, uint32_t out);
int32_t wasi_fd_read(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t out);
int32_t wasi_fd_pread(uint32_t fd, uint32_t iovs, uint32_t count, uint64_t offset, uint32_t out);
int32_t wasi_path_create_directory(uint32_t fd, uint32_t path, uint32_t len);
int32_t wasi_path_filestat_get(uint32_t fd, uint32_t flags, uint32_t path, uint32_t len, uint32_t out);
int32_t wasi_path_filestat_set_times(uint32_t fd, uint32_t flags, uint32_t path, uint32_t len, uint64_t atim, uint64_t mtim, uint32_t fst_flags);
int32_t wasi_path_link(uint32_t old_fd, uint32_t old_flags, uint32_t old_path, uint32_t old_len, uint32_t new_fd, uint32_t new_path, uint32_t new_len);
int32_t wasi_path_readlink(uint32_t fd, uint32_t path, uint32_t len, uint32_t buf, uint32_t buf_len, uint32_t out);
int32_t wasi_path_remove_directory(uint32_t fd, uint32_t path, uint32_t len);
int32_t wasi_path_unlink_file(uint32_t fd, uint32_t path, uint32_t len);
int32_t wasi_path_rename(uint32_t old_fd, uint32_t old_path, uint32_t old_len, uint32_t new_fd, uint32_t new_path, uint32_t new_len);
int32_t wasi_path_symlink(uint32_t target, uint32_t target_len, uint32_t fd, uint32_t path, uint32_t len);
int32_t wasi_path_open(uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t len, uint32_t oflags, uint64_t rights_base, uint64_t rights_inheriting, uint32_t fdflags, uint32_t out);
int32_t wasi_poll_oneoff(uint32_t in, uint32_t out, uint32_t count, uint32_t nevents);
int32_t wasi_clock_res_get(uint32_t id, uint32_t out);
int32_t wasi_clock_time_get(uint32_t id, uint64_t precision, uint32_t out);
int32_t wasi_random_get(uint32_t buf, uint32_t len);
void wasi_proc_exit(uint32_t code);
int32_t wasi_proc_raise(uint32_t sig);
int32_t wasi_sched_yield(void);
int32_t wasi_sock_accept(uint32_t fd, uint32_t flags, uint32_t out);
int32_t wasi_sock_recv(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t flags, uint32_t len_out, uint32_t flags_out);
int32_t wasi_sock_send(uint32_t fd, uint32_t iovs, uint32_t count, uint32_t flags, uint32_t len_out);
int32_t wasi_sock_shutdown(uint32_t fd, uint32_t how);
int32_t wasi_wasm_attach(int32_t can_block);
uintptr_t wasi_wasm_process_id(void);
void wasi_wasm_detach(void);
int32_t wasi_wasm_recover(void);
uintptr_t wasi_wasm_lock_owner_slot(void);
uintptr_t wasi_wasm_busy_slot(void);
int32_t wasi_wasm_hook_index(int32_t hook);
uintptr_t wasi_wasm_alloc(uint32_t size);
int32_t wasi_wasm_free(uintptr_t ptr);
int32_t wasi_wasm_set_args(uintptr_t ptr, uint32_t len);
int32_t wasi_wasm_set_env(uintptr_t ptr, uint32_t len);
int32_t wasi_wasm_set_stdio_mode(uint32_t mode);
void wasi_wasm_flush(void);
int32_t wasi_wasm_set_limits(uint64_t max_bytes, uint32_t max_path, uint32_t max_name, uint32_t max_follows);
int32_t wasi_wasm_set_max_fds(uint32_t max_fds);
int32_t wasi_wasm_preopen(uintptr_t vfs_path, uint32_t vfs_len, uintptr_t name, uint32_t name_len);
uint64_t wasi_wasm_used_bytes(void);
uint32_t wasi_wasm_fsck(void);
uint32_t wasi_wasm_pipe_new(void);
int32_t wasi_wasm_pipe_release(uint32_t handle);
int32_t wasi_wasm_pipe_attach(uint32_t handle, uint32_t fd, uint32_t write_end);

#endif
