/* Helpers shared by the WASI entry points: fd lookup by kind, and the rights wasmtime
   reports for each kind of descriptor. */
#ifndef PROCESS_FDOPS_H
#define PROCESS_FDOPS_H

#include "process/fdtable.h"

#define PREOPEN_RIGHTS_BASE                                                                   \
    (RIGHT_PATH_CREATE_DIRECTORY | RIGHT_PATH_CREATE_FILE | RIGHT_PATH_LINK_SOURCE |          \
     RIGHT_PATH_LINK_TARGET | RIGHT_PATH_OPEN | RIGHT_FD_READDIR | RIGHT_PATH_READLINK |      \
     RIGHT_PATH_RENAME_SOURCE | RIGHT_PATH_RENAME_TARGET | RIGHT_PATH_SYMLINK |               \
     RIGHT_PATH_REMOVE_DIRECTORY | RIGHT_PATH_UNLINK_FILE | RIGHT_PATH_FILESTAT_GET |         \
     RIGHT_PATH_FILESTAT_SET_SIZE | RIGHT_PATH_FILESTAT_SET_TIMES | RIGHT_FD_FILESTAT_GET |    \
     RIGHT_FD_FILESTAT_SET_TIMES)
#define PREOPEN_RIGHTS_INHERITING                                                             \
    (PREOPEN_RIGHTS_BASE | RIGHT_FD_DATASYNC | RIGHT_FD_READ | RIGHT_FD_SEEK |                \
     RIGHT_FD_FDSTAT_SET_FLAGS | RIGHT_FD_SYNC | RIGHT_FD_TELL | RIGHT_FD_WRITE |             \
     RIGHT_FD_ADVISE | RIGHT_FD_ALLOCATE | RIGHT_FD_FILESTAT_GET |                            \
     RIGHT_FD_FILESTAT_SET_SIZE | RIGHT_FD_FILESTAT_SET_TIMES | RIGHT_POLL_FD_READWRITE)

/* The fd if open (EBADF otherwise). */
errno_t fd_get(uint32_t fd, struct fd_entry **out);
/* The fd if it is a regular file: EBADF for directories, spipe_for_stdio (ESPIPE or EBADF,
   as wasmtime varies it per call) for stdio. */
errno_t fd_get_file(uint32_t fd, struct fd_entry **out, errno_t stdio_error);
/* The fd if it is a directory (EBADF otherwise). */
errno_t fd_get_dir(uint32_t fd, struct fd_entry **out);
/* Inline, as the touches and limits below: a call from wasm costs ~30 x86 instructions
   (prologue, stack check, spills; bench/ops.py --instructions), more than these bodies. */
static inline errno_t fd_need_right(const struct fd_entry *e, uint64_t right) {
    return (e->rights_base & right) == right ? E_SUCCESS : E_NOTCAPABLE;
}
/* fd_filestat_set_times and path_filestat_set_times, now the time of the call (vfs_now
   under the lock exclusive, file_time_now under the lock shared). Lock held. */
errno_t apply_times(struct inode *node, uint64_t atim, uint64_t mtim, uint32_t flags, uint64_t now);
bool times_flags_valid(uint32_t flags);

#endif
