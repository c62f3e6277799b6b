/* A scripted file user for the sharing tests: runs its arguments as steps, in order, on one
 * current fd, and prints one line per step that shows something.
 *
 *   open:PATH      open PATH read-write, creating it         prints "fd N"
 *   append:PATH    the same with O_APPEND                     prints "fd N"
 *   write:TEXT     write TEXT at the current offset
 *   read:N         read up to N bytes                         prints "read [DATA]"
 *   pread:OFF:N    read up to N bytes at OFF                  prints "pread [DATA]"
 *   seek:OFF       set the offset
 *   size           fstat                                      prints "size N"
 *   close          close the current fd
 *   closefd:N      close fd N (whatever it is)                prints "closefd N errno E"
 *   unlink:PATH    unlink PATH                                prints "unlink errno E"
 *   wait           read stdin up to a newline (the host runs another program meanwhile)
 *   exit:N         exit(N) at once, leaving the fd open
 * A failing step prints "STEP failed errno E" and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd = -1;
static char data[4096];

static void failed(const char *step) {
    printf("%s failed errno %d\n", step, errno);
    exit(1);
}

static void show(const char *label, ssize_t n) {
    if (n < 0) failed(label);
    printf("%s [%.*s]\n", label, (int)n, data);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *step = argv[i];
        const char *arg = strchr(step, ':') ? strchr(step, ':') + 1 : "";
        if (!strncmp(step, "open:", 5) || !strncmp(step, "append:", 7)) {
            int flags = O_RDWR | O_CREAT | (step[0] == 'a' ? O_APPEND : 0);
            fd = open(arg, flags, 0644);
            if (fd < 0) failed(step);
            printf("fd %d\n", fd);
        } else if (!strncmp(step, "write:", 6)) {
            if (write(fd, arg, strlen(arg)) != (ssize_t)strlen(arg)) failed(step);
        } else if (!strncmp(step, "read:", 5)) {
            size_t n = (size_t)atoi(arg);
            show("read", read(fd, data, n < sizeof data ? n : sizeof data));
        } else if (!strncmp(step, "pread:", 6)) {
            char *colon = strchr(arg, ':');
            if (!colon) failed(step);
            size_t n = (size_t)atoi(colon + 1);
            show("pread", pread(fd, data, n < sizeof data ? n : sizeof data, atol(arg)));
        } else if (!strncmp(step, "seek:", 5)) {
            if (lseek(fd, atol(arg), SEEK_SET) < 0) failed(step);
        } else if (!strcmp(step, "size")) {
            struct stat st;
            if (fstat(fd, &st)) failed(step);
            printf("size %lld\n", (long long)st.st_size);
        } else if (!strcmp(step, "close")) {
            if (close(fd)) failed(step);
            fd = -1;
        } else if (!strncmp(step, "closefd:", 8)) {
            int rc = close(atoi(arg));
            printf("closefd %d errno %d\n", atoi(arg), rc ? errno : 0);
        } else if (!strncmp(step, "unlink:", 7)) {
            int rc = unlink(arg);
            printf("unlink errno %d\n", rc ? errno : 0);
        } else if (!strcmp(step, "wait")) {
            char c = 0;
            ssize_t n;
            while ((n = read(0, &c, 1)) == 1 && c != '\n') {
            }
            if (n < 0) failed(step);
        } else if (!strncmp(step, "exit:", 5)) {
            fflush(stdout);
            exit(atoi(arg));
        } else {
            fprintf(stderr, "share_files: unknown step %s\n", step);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
