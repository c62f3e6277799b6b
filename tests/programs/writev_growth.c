/* writev of two iovecs, 1 byte then 100, into each of 32 new files, then every file read
   back. A new file's first block is sized by the write that makes it: sized for the first
   iovec alone (64 bytes), the second iovec ran past its end into the next file's block, and
   the files read back each other's bytes (fuzz regression
   shared_write_grew_chunk0_of_its_first_iovec). Prints what differs, then "failures: N". */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define FILES 32
#define TAIL 100

int main(void) {
    int failures = 0;
    char name[48], head, tail[TAIL], back[TAIL + 2];
    for (int k = 0; k < FILES; k++) {
        snprintf(name, sizeof name, "/sandbox/f%d", k);
        head = (char)('a' + k % 26);
        memset(tail, 'A' + k % 26, sizeof tail);
        struct iovec iov[2] = {{&head, 1}, {tail, sizeof tail}};
        int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        ssize_t n = fd < 0 ? -1 : writev(fd, iov, 2);
        /* wasmtime writes a file's first iovec alone (a short write, as POSIX allows). */
        if (n == 1) n += write(fd, tail, sizeof tail);
        if (n != 1 + TAIL || close(fd) != 0) { perror(name); return 1; }
    }
    for (int k = 0; k < FILES; k++) {
        snprintf(name, sizeof name, "/sandbox/f%d", k);
        int fd = open(name, O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, back, sizeof back);
        close(fd);
        if (n != 1 + TAIL || back[0] != 'a' + k % 26) {
            printf("MISMATCH %s: %zd bytes, first %c\n", name, n, back[0]);
            failures++;
            continue;
        }
        for (int i = 1; i <= TAIL; i++) {
            if (back[i] != 'A' + k % 26) {
                printf("MISMATCH %s: byte %d is %c\n", name, i, back[i]);
                failures++;
                break;
            }
        }
    }
    printf("files: %d\nfailures: %d\n", FILES, failures);
    return 0;
}
