/* What a hostile guest does to the trees a host copies out (tests/test_host_safety.py).
 *
 *   host_safety_tool sparse PATH SIZE OFFSET TEXT   TEXT at OFFSET, then the size set to SIZE
 *   host_safety_tool deep DIR LEVELS NAME           LEVELS nested directories NAME below DIR,
 *                                                   made one directory fd at a time (deeper
 *                                                   than any path), "bottom.txt" at the end
 *   host_safety_tool swap DIR TARGET OTHER          DIR (a directory of files) becomes a
 *                                                   symlink to TARGET; OTHER/pwned.txt written
 *   host_safety_tool fill DIR                       files in DIR until ENOSPC, then the crumbs
 *
 * Prints "ok" and exits 0, or names the failing step and exits 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *step) {
    printf("%s: %s\n", step, strerror(errno));
    return 1;
}

static int write_text(int dir, const char *name, const char *text) {
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int sparse(const char *path, const char *size, const char *offset, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("open");
    size_t len = strlen(text);
    if (pwrite(fd, text, len, (off_t)strtoll(offset, NULL, 10)) != (ssize_t)len)
        return fail("pwrite");
    if (ftruncate(fd, (off_t)strtoll(size, NULL, 10))) return fail("ftruncate");
    return close(fd) ? fail("close") : 0;
}

static int deep(const char *dir, const char *levels, const char *name) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return fail("open");
    for (long i = atol(levels); i > 0; i--) {
        if (mkdirat(fd, name, 0755)) return fail("mkdirat");
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
        if (next < 0) return fail("openat");
        close(fd);
        fd = next;
    }
    if (write_text(fd, "bottom.txt", "deep")) return fail("bottom.txt");
    return close(fd) ? fail("close") : 0;
}

static int swap(const char *dir, const char *target, const char *other) {
    DIR *listing = opendir(dir);
    if (!listing) return fail("opendir");
    struct dirent *entry;
    while ((entry = readdir(listing)))
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..") &&
            unlinkat(dirfd(listing), entry->d_name, 0))
            return fail("unlinkat");
    closedir(listing);
    if (rmdir(dir)) return fail("rmdir");
    if (symlink(target, dir)) return fail("symlink");
    int fd = open(other, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || write_text(fd, "pwned.txt", "pwned")) return fail("pwned.txt");
    return close(fd) ? fail("close") : 0;
}

static int fill(const char *dir) {
    static char block[20000];
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return fail("open");
    char name[32];
    size_t size = sizeof block;
    for (int i = 0; size; i++) {
        snprintf(name, sizeof name, "f%d", i);
        int file = openat(fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (file < 0) return errno == ENOSPC ? 0 : fail("create");
        ssize_t n = write(file, block, size);
        close(file);
        if (n < 0 && errno != ENOSPC) return fail("write");
        if (n < (ssize_t)size) size /= 2; /* then fill every crumb */
    }
    return 0;
}

int main(int argc, char **argv) {
    int status = 2;
    if (argc == 6 && !strcmp(argv[1], "sparse")) status = sparse(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 5 && !strcmp(argv[1], "deep")) status = deep(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "swap")) status = swap(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "fill")) status = fill(argv[2]);
    if (status == 2) printf("usage: see the comment at the top of host_safety_tool.c\n");
    if (status == 0) printf("ok\n");
    return status;
}
