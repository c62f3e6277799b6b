/* Prints, for fds 0, 1 and 2, isatty() and the filetype fd_fdstat_get and fd_filestat_get
   report: "fd 1: tty 1 fdstat 2 filestat 2" (2: character device, 0: unknown). */
#include <stdio.h>
#include <unistd.h>
#include <wasi/api.h>

int main(void) {
    for (int fd = 0; fd < 3; fd++) {
        __wasi_fdstat_t fdstat;
        __wasi_filestat_t filestat;
        int fdstat_type = __wasi_fd_fdstat_get(fd, &fdstat) ? -1 : fdstat.fs_filetype;
        int filestat_type = __wasi_fd_filestat_get(fd, &filestat) ? -1 : filestat.filetype;
        fprintf(stderr, "fd %d: tty %d fdstat %d filestat %d\n", fd, isatty(fd), fdstat_type, filestat_type);
    }
    return 0;
}
