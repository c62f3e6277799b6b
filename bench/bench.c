/* One WASI benchmark per run: `bench NAME DIR SCALE`. It times itself with
   clock_gettime(CLOCK_MONOTONIC) and prints "NAME VALUE UNIT" lines (ns/op or MB/s).
   SCALE divides the iteration counts, so that slow peers finish in reasonable time. */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static long scale = 1;
static char path_buf[512];

static const char *at(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long count(long n) { return n / scale > 0 ? n / scale : 1; }

static void report_ns(const char *name, double start, long ops) {
    printf("%s %.1f ns/op\n", name, (now_ns() - start) / (double)ops);
}

static void report_mbs(const char *name, double start, long bytes) {
    printf("%s %.1f MB/s\n", name, (double)bytes / 1e6 / ((now_ns() - start) / 1e9));
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static int create(const char *name) {
    int fd = open(at(name), O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (fd < 0) fail(name);
    return fd;
}

static void fill_file(const char *name, long bytes) {
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    int fd = create(name);
    for (long done = 0; done < bytes; done += sizeof chunk)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) fail("fill");
    close(fd);
}

static void bench_write16(void) {
    int fd = create("w16");
    long n = count(200000);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (write(fd, "0123456789abcdef", 16) != 16) fail("write16");
    report_ns("write16", t, n);
    close(fd);
}

static void bench_write_bulk(void) {
    static char chunk[1 << 20];
    memset(chunk, 'y', sizeof chunk);
    int fd = create("wbulk");
    long n = 64;
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) fail("write_bulk");
    report_mbs("write_bulk", t, n * (long)sizeof chunk);
    close(fd);
}

static void bench_read16(void) {
    fill_file("r16", 4 << 20);
    int fd = open(at("r16"), O_RDONLY);
    char buf[16];
    long n = count(262144);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (read(fd, buf, 16) != 16) fail("read16");
    report_ns("read16", t, n);
    close(fd);
}

static void bench_read_bulk(void) {
    static char chunk[1 << 20];
    fill_file("rbulk", 64 << 20);
    int fd = open(at("rbulk"), O_RDONLY);
    double t = now_ns();
    long total = 0;
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0) total += got;
    report_mbs("read_bulk", t, total);
    close(fd);
}

static void bench_stat_deep(void) {
    const char *parts[] = { "a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e" };
    for (int i = 0; i < 5; i++) mkdir(at(parts[i]), 0755);
    close(create("a/b/c/d/e/f"));
    char target[512];
    snprintf(target, sizeof target, "%s/a/b/c/d/e/f", dir);
    struct stat st;
    long n = count(200000);
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (stat(target, &st) != 0) fail("stat");
    report_ns("stat_deep", t, n);
}

static void bench_open_close(void) {
    close(create("oc"));
    char target[512];
    snprintf(target, sizeof target, "%s/oc", dir);
    long n = count(100000);
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(target, O_RDONLY);
        if (fd < 0) fail("open");
        close(fd);
    }
    report_ns("open_close", t, n);
}

static void bench_create_unlink(void) {
    char data[100];
    memset(data, 'z', sizeof data);
    char target[512];
    snprintf(target, sizeof target, "%s/cu", dir);
    long n = count(20000);
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(target, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data) fail("create");
        close(fd);
        if (unlink(target) != 0) fail("unlink");
    }
    report_ns("create_unlink", t, n);
}

/* A build or a log rewriting a file that exists: O_TRUNC of a file with bytes. */
static void bench_rewrite(void) {
    char data[100];
    memset(data, 'r', sizeof data);
    close(create("rw"));
    char target[512];
    snprintf(target, sizeof target, "%s/rw", dir);
    long n = count(50000);
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(target, O_WRONLY | O_TRUNC);
        if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data) fail("rewrite");
        close(fd);
    }
    report_ns("rewrite", t, n);
}

static double stat_time(const char *path, long n) {
    struct stat st;
    double t = now_ns();
    for (long i = 0; i < n; i++)
        if (stat(path, &st) != 0) fail(path);
    return (now_ns() - t) / (double)n;
}

static void bench_bigdir(void) {
    long files = 10000;
    mkdir(at("big"), 0755);
    mkdir(at("small"), 0755);
    char name[512];
    for (long i = 0; i < files; i++) {
        snprintf(name, sizeof name, "big/file%05ld", i);
        close(create(name));
    }
    for (long i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "small/file%05ld", i);
        close(create(name));
    }
    snprintf(name, sizeof name, "%s/big", dir);
    double t = now_ns();
    DIR *d = opendir(name);
    long seen = 0;
    while (readdir(d)) seen++;
    closedir(d);
    printf("readdir_10k %.1f ns/op\n", now_ns() - t);
    if (seen != files + 2) fprintf(stderr, "readdir saw %ld entries\n", seen);
    long n = count(20000);
    const char *which[] = { "00000", "05000", "09999" };
    const char *label[] = { "stat_big_first", "stat_big_middle", "stat_big_last" };
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/big/file%s", dir, which[i]);
        printf("%s %.1f ns/op\n", label[i], stat_time(name, n));
    }
    snprintf(name, sizeof name, "%s/small/file00005", dir);
    printf("stat_small %.1f ns/op\n", stat_time(name, n));
}

/* Line-buffered, as a program streaming to a terminal or a pipe reader: one fd_write per
   line, which is the case where the cost of a write to stdout shows. */
static void bench_printf(void) {
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    long n = count(100000);
    double t = now_ns();
    for (long i = 0; i < n; i++) printf("line %ld\n", i);
    fflush(stdout);
    fprintf(stderr, "printf_lines %.1f ns/op\n", (now_ns() - t) / (double)n);
}

static void bench_clock(void) {
    long n = count(1000000);
    struct timespec ts;
    double t = now_ns();
    for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
    report_ns("clock_gettime", t, n);
}

/* A 1-byte pwrite at 2^36, 2^40 and 2^42, each followed by ftruncate(0), 10 pairs each:
   what a sparse file costs to make and to empty (docs/DESIGN.md, "Sparse files"). Not in
   run.py's default list: one pair, not an op rate, is the point. */
static void bench_sparse(void) {
    static const int shifts[] = { 36, 40, 42 };
    int fd = create("sparse");
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        double write_ns = 0, truncate_ns = 0;
        long n = 10;
        for (long i = 0; i < n; i++) {
            double t = now_ns();
            if (pwrite(fd, "x", 1, (off_t)1 << shifts[s]) != 1) fail("pwrite");
            double u = now_ns();
            if (ftruncate(fd, 0)) fail("ftruncate");
            write_ns += u - t;
            truncate_ns += now_ns() - u;
        }
        printf("sparse%d_pwrite %.1f ns/op\n", shifts[s], write_ns / (double)n);
        printf("sparse%d_ftruncate %.1f ns/op\n", shifts[s], truncate_ns / (double)n);
    }
    close(fd);
}

static void bench_noop(void) {
    long n = count(1000000);
    double t = now_ns();
    for (long i = 0; i < n; i++) sched_yield();
    report_ns("noop_syscall", t, n);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench NAME DIR [SCALE]\n");
        return 2;
    }
    dir = argv[2];
    if (argc > 3) scale = atol(argv[3]);
    static const struct { const char *name; void (*run)(void); } all[] = {
        { "write16", bench_write16 }, { "write_bulk", bench_write_bulk },
        { "read16", bench_read16 }, { "read_bulk", bench_read_bulk },
        { "stat_deep", bench_stat_deep }, { "open_close", bench_open_close },
        { "create_unlink", bench_create_unlink }, { "rewrite", bench_rewrite }, { "bigdir", bench_bigdir },
        { "printf", bench_printf }, { "clock", bench_clock }, { "noop", bench_noop },
        { "sparse", bench_sparse },
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(all[i].name, argv[1]) == 0) {
            all[i].run();
            return 0;
        }
    }
    fprintf(stderr, "unknown benchmark %s\n", argv[1]);
    return 2;
}
