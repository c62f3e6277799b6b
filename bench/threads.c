/* One thread's share of the scaling benchmark: `threads MODE DIR ID ITERATIONS`.
   DIR holds shared/ (a header and a 1 MiB data file, made by the host) and each thread's
   own directory tID/. The loop times itself with CLOCK_MONOTONIC and prints
   "ops START_NS END_NS CPU_NS", so the host can sum operations over the span of all
   threads; CPU_NS is the thread's CPU time in the loop (-1 where the runtime has no
   thread CPU clock): on a machine where other work takes cores, CPU time per operation
   still shows what sharing costs each thread. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static char own[256], path[512], path2[512];

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* wasi-libc's clock_gettime knows no CPU clocks (without process-clock emulation). */
static long long cpu_ns(void) {
    __wasi_timestamp_t t;
    if (__wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &t) != 0) return -1;
    return (long long)t;
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static long mode_stat(const char *dir, long n) {
    struct stat st;
    snprintf(path, sizeof path, "%s/shared/include/hdr.h", dir);
    for (long i = 0; i < n; i++)
        if (stat(path, &st) != 0) fail("stat");
    return n;
}

static long mode_pread(const char *dir, long n) {
    char buf[64];
    snprintf(path, sizeof path, "%s/shared/data", dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("open data");
    for (long i = 0; i < n; i++)
        if (pread(fd, buf, sizeof buf, (off_t)((i * 4096) & ((1 << 20) - 1))) != (ssize_t)sizeof buf) fail("pread");
    close(fd);
    return n;
}

static long mode_write(long n) {
    snprintf(path, sizeof path, "%s/out", own);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) fail("open out");
    for (long i = 0; i < n; i++)
        if (write(fd, "0123456789abcdef", 16) != 16) fail("write");
    close(fd);
    return n;
}

static long mode_create(long n) {
    snprintf(path, sizeof path, "%s/tmp", own);
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16) fail("create");
        close(fd);
        if (unlink(path) != 0) fail("unlink");
    }
    return n;
}

/* Rewriting its own file that exists (a log, an output made again): O_TRUNC, write, close. */
static long mode_rewrite(long n) {
    snprintf(path, sizeof path, "%s/out", own);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_TRUNC | O_WRONLY);
        if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16) fail("rewrite");
        close(fd);
    }
    return n;
}

/* A parallel build: even threads compile (write an object under a temporary name, rename
   it into place), odd threads read headers (stat and read the shared header). */
static long mode_build(const char *dir, int id, long n) {
    static char block[4096];
    if (id % 2 == 0) {
        for (long i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/obj%ld.tmp", own, i % 64);
            snprintf(path2, sizeof path2, "%s/obj%ld.o", own, i % 64);
            int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
            if (fd < 0 || write(fd, block, sizeof block) != (ssize_t)sizeof block) fail("object");
            close(fd);
            if (rename(path, path2) != 0) fail("rename");
        }
        return n;
    }
    struct stat st;
    char buf[256];
    snprintf(path, sizeof path, "%s/shared/include/hdr.h", dir);
    for (long i = 0; i < n; i++) {
        if (stat(path, &st) != 0) fail("stat hdr");
        int fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof buf) <= 0) fail("read hdr");
        close(fd);
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: threads MODE DIR ID ITERATIONS\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    int id = atoi(argv[3]);
    long n = atol(argv[4]);
    snprintf(own, sizeof own, "%s/t%d", dir, id);
    mkdir(own, 0755);
    long long cpu_start = cpu_ns();
    long long start = now_ns();
    long ops = !strcmp(mode, "stat")     ? mode_stat(dir, n)
               : !strcmp(mode, "pread")  ? mode_pread(dir, n)
               : !strcmp(mode, "write")  ? mode_write(n)
               : !strcmp(mode, "create") ? mode_create(n)
               : !strcmp(mode, "rewrite") ? mode_rewrite(n)
               : !strcmp(mode, "build")  ? mode_build(dir, id, n)
                                         : -1;
    long long end = now_ns();
    long long cpu_end = cpu_ns();
    if (ops < 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%ld %lld %lld %lld\n", ops, start, end, cpu_start < 0 || cpu_end < 0 ? -1 : cpu_end - cpu_start);
    return 0;
}
