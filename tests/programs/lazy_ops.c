/* Filesystem operations named on the command line, one result line each, for the lazy
 * mount tests (tests/test_lazy_mount.py), differential against wasmtime:
 *
 *   lazy_ops OP ARGS... [OP ARGS...]...
 *
 *   stat P | read P | ls D | readlink P | mkdir P | rm P | rmdir P | trunc P | utime P
 *   create P (O_CREAT|O_WRONLY) | openw P (O_WRONLY) | opentrunc P (O_RDONLY|O_TRUNC)
 *   ftrunc P (ftruncate a read-only fd) | futime P (futimens on a read-only fd)
 *   write P TEXT (create or truncate) | append P TEXT | mv A B | symlink TARGET P | link A B
 *   size P N (truncate to N bytes)
 *
 * Each prints "OP P: OK" (read adds the content, ls the sorted names, stat the type and
 * size) or "OP P: errno N" with the errno number (the same wasi-libc numbers in any runtime).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int result(const char *op, const char *path, int ok) {
    if (ok) printf("%s %s: OK\n", op, path);
    else printf("%s %s: errno %d\n", op, path, errno);
    return ok;
}

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *path) {
    DIR *d = opendir(path);
    if (!result("ls", path, d != NULL)) return;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], compare);
    for (int i = 0; i < n; i++) {
        printf("  %s\n", names[i]);
        free(names[i]);
    }
}

static void read_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (!result("read", path, fd >= 0)) return;
    char buf[4096];
    ssize_t n;
    size_t total = 0;
    printf("  [");
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (total < 200) fwrite(buf, 1, (size_t)n < 200 - total ? (size_t)n : 200 - total, stdout);
        total += (size_t)n;
    }
    printf("] %zu bytes\n", total);
    close(fd);
}

static void write_file(const char *path, const char *text, int flags) {
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    if (fd >= 0 && write(fd, text, strlen(text)) < 0) {
        close(fd);
        fd = -1;
    }
    result(flags & O_APPEND ? "append" : "write", path, fd >= 0);
    if (fd >= 0) close(fd);
}

static void open_as(const char *op, const char *path, int flags) {
    int fd = open(path, flags, 0644);
    result(op, path, fd >= 0);
    if (fd >= 0) close(fd);
}

static void on_read_fd(const char *op, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        result(op, path, 0);
        return;
    }
    struct timespec times[2] = { { 0, 0 }, { 0, 0 } };
    result(op, path, op[1] == 't' ? ftruncate(fd, 0) == 0 : futimens(fd, times) == 0);
    close(fd);
}

int main(int argc, char **argv) {
    struct timespec times[2] = { { 0, 0 }, { 0, 0 } };
    for (int i = 1; i < argc;) {
        const char *op = argv[i++];
        const char *p = i < argc ? argv[i++] : "";
        const char *q = i < argc ? argv[i] : "";
        if (!strcmp(op, "stat")) {
            struct stat st;
            if (result("stat", p, lstat(p, &st) == 0))
                printf("  %s %lld\n", S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link" : "file",
                       S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL);
        } else if (!strcmp(op, "read")) read_file(p);
        else if (!strcmp(op, "ls")) list(p);
        else if (!strcmp(op, "readlink")) {
            char buf[256];
            ssize_t n = readlink(p, buf, sizeof buf - 1);
            if (result("readlink", p, n >= 0)) printf("  %.*s\n", (int)n, buf);
        } else if (!strcmp(op, "mkdir")) result(op, p, mkdir(p, 0755) == 0);
        else if (!strcmp(op, "rm")) result(op, p, unlink(p) == 0);
        else if (!strcmp(op, "rmdir")) result(op, p, rmdir(p) == 0);
        else if (!strcmp(op, "trunc")) result(op, p, truncate(p, 0) == 0);
        else if (!strcmp(op, "utime")) result(op, p, utimensat(AT_FDCWD, p, times, 0) == 0);
        else if (!strcmp(op, "create")) open_as(op, p, O_WRONLY | O_CREAT);
        else if (!strcmp(op, "openw")) open_as(op, p, O_WRONLY);
        else if (!strcmp(op, "opentrunc")) open_as(op, p, O_RDONLY | O_TRUNC);
        else if (!strcmp(op, "ftrunc") || !strcmp(op, "futime")) on_read_fd(op, p);
        else if (!strcmp(op, "write")) { i++; write_file(p, q, O_TRUNC); }
        else if (!strcmp(op, "append")) { i++; write_file(p, q, O_APPEND); }
        else if (!strcmp(op, "mv")) { i++; result(op, p, rename(p, q) == 0); }
        else if (!strcmp(op, "symlink")) { i++; result(op, q, symlink(p, q) == 0); }
        else if (!strcmp(op, "link")) { i++; result(op, p, link(p, q) == 0); }
        else if (!strcmp(op, "size")) { i++; result(op, p, truncate(p, atoll(q)) == 0); }
        else {
            printf("unknown op %s\n", op);
            return 2;
        }
    }
    return 0;
}
