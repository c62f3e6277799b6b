/* Lists a restored tree as a program sees it, one line per entry, depth first:
 *   PATH KIND SIZE NLINK MTIME_NS [TARGET | FNV-1a hash of the content]
 * KIND is d, f or l. Used to check that a restored archive reads right to a guest. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long hash_file(const char *path) {
    uint64_t h = 1469598103934665603ull;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    static unsigned char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < got; i++) h = (h ^ buf[i]) * 1099511628211ull;
    close(fd);
    return (unsigned long long)h;
}

static int walk(const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); return 1; }
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4096], name[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) { perror(path); bad = 1; continue; }
        long long mtime = (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
        if (S_ISDIR(st.st_mode)) {
            printf("%s d %lld %lu %lld\n", name, (long long)0, (unsigned long)st.st_nlink, mtime);
            bad |= walk(path, name);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlink(path, target, sizeof target - 1);
            target[n < 0 ? 0 : n] = 0;
            printf("%s l %lld %lu %lld %s\n", name, (long long)st.st_size, (unsigned long)st.st_nlink, mtime, target);
        } else {
            printf("%s f %lld %lu %lld %016llx\n", name, (long long)st.st_size, (unsigned long)st.st_nlink, mtime,
                   hash_file(path));
        }
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: snapshot_read DIR\n"); return 2; }
    return walk(argv[1], "");
}
