/* The guest of tests/test_host_fuzz.py: rearranges the --dir trees as a hostile program
 * would, one operation per group of arguments, through wasi-libc (absolute paths resolve
 * against the preopens, as in any WASI program):
 *
 *   mkdir PATH                  rmdir PATH                unlink PATH
 *   write PATH TEXT             (create or truncate, then TEXT)
 *   pwrite PATH OFFSET TEXT     (create if missing; TEXT at OFFSET: a hole before it)
 *   truncate PATH SIZE          (create if missing; the size set to SIZE, e.g. 1 TiB)
 *   symlink TARGET PATH         link OLD NEW              rename OLD NEW
 *   rmtree PATH                 (PATH and everything below it; symlinks removed, not followed)
 *   swap PATH TARGET            (rmtree PATH, then PATH a symlink to TARGET)
 *   dirswap PATH                (rmtree PATH, then PATH a directory holding planted.txt)
 *
 * An operation that fails is reported and the next one runs: the fuzzer's operations are
 * random, and most failures (EEXIST, ENOENT, EPERM for an escape) are the point. Prints one
 * line per operation ("3 rename: ENOENT"), exits 0; 2 for arguments it cannot parse. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *text, off_t offset) {
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, text + done, len - done, offset + (off_t)done);
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

static int with_file(const char *path, int flags, int (*action)(int, const char *, off_t),
                     const char *text, off_t offset) {
    int fd = open(path, O_WRONLY | O_NOFOLLOW | flags, 0644);
    if (fd < 0) return -1;
    int status = action(fd, text, offset);
    int saved = errno;
    close(fd);
    errno = saved;
    return status;
}

static int set_size(int fd, const char *unused, off_t size) {
    (void)unused;
    return ftruncate(fd, size);
}

/* Removes PATH and what is below it, depth first; a path buffer per level is enough for the
 * fuzzer's shallow trees. */
static int rmtree(const char *path) {
    struct stat info;
    if (lstat(path, &info)) return -1;
    if (!S_ISDIR(info.st_mode)) return unlink(path);
    DIR *dir = opendir(path);
    if (!dir) return -1;
    struct dirent *entry;
    int status = 0;
    while ((entry = readdir(dir))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char child[4096];
        if (snprintf(child, sizeof child, "%s/%s", path, entry->d_name) >= (int)sizeof child) {
            errno = ENAMETOOLONG;
            status = -1;
            break;
        }
        if (rmtree(child)) {
            status = -1;
            break;
        }
    }
    int saved = errno;
    closedir(dir);
    errno = saved;
    return status ? status : rmdir(path);
}

static int run(const char *op, char **args, int left, int *used) {
    static const struct {
        const char *name;
        int args;
    } arity[] = {
        {"mkdir", 1}, {"rmdir", 1}, {"unlink", 1}, {"write", 2}, {"pwrite", 3},
        {"truncate", 2}, {"symlink", 2}, {"link", 2}, {"rename", 2}, {"rmtree", 1},
        {"swap", 2}, {"dirswap", 1},
    };
    *used = -1;
    for (size_t i = 0; i < sizeof arity / sizeof arity[0]; i++)
        if (!strcmp(op, arity[i].name)) *used = arity[i].args;
    if (*used < 0 || *used > left) return -2;
    if (!strcmp(op, "mkdir")) return mkdir(args[0], 0755);
    if (!strcmp(op, "rmdir")) return rmdir(args[0]);
    if (!strcmp(op, "unlink")) return unlink(args[0]);
    if (!strcmp(op, "write")) return with_file(args[0], O_CREAT | O_TRUNC, write_all, args[1], 0);
    if (!strcmp(op, "pwrite"))
        return with_file(args[0], O_CREAT, write_all, args[2], (off_t)strtoll(args[1], NULL, 10));
    if (!strcmp(op, "truncate"))
        return with_file(args[0], O_CREAT, set_size, NULL, (off_t)strtoll(args[1], NULL, 10));
    if (!strcmp(op, "symlink")) return symlink(args[0], args[1]);
    if (!strcmp(op, "link")) return link(args[0], args[1]);
    if (!strcmp(op, "rename")) return rename(args[0], args[1]);
    if (!strcmp(op, "rmtree")) return rmtree(args[0]);
    struct stat info;
    if (!lstat(args[0], &info) && rmtree(args[0])) return -1;
    if (!strcmp(op, "swap")) return symlink(args[1], args[0]);
    /* dirswap */
    if (mkdir(args[0], 0755)) return -1;
    char planted[4096];
    snprintf(planted, sizeof planted, "%s/planted.txt", args[0]);
    return with_file(planted, O_CREAT | O_TRUNC, write_all, "planted", 0);
}

int main(int argc, char **argv) {
    int step = 0;
    for (int i = 1; i < argc; step++) {
        int used;
        errno = 0;
        int status = run(argv[i], argv + i + 1, argc - i - 1, &used);
        if (status == -2) {
            printf("%d %s: bad arguments\n", step, argv[i]);
            return 2;
        }
        printf("%d %s: %s\n", step, argv[i], status ? strerror(errno) : "ok");
        i += 1 + used;
    }
    return 0;
}
