/* A small multi-command WASI program for the Python API and CLI tests.
 *
 *   api_tool args A B ...        print argc and each argv[i] on its own line
 *   api_tool env                 print every environment entry
 *   api_tool getenv NAME         print NAME's value or "(unset)"
 *   api_tool cat                 copy stdin to stdout
 *   api_tool exit N              exit(N) (proc_exit)
 *   api_tool return N            return N from main
 *   api_tool trap                execute `unreachable`
 *   api_tool write PATH TEXT     create/truncate PATH with TEXT
 *   api_tool append PATH TEXT    append TEXT to PATH
 *   api_tool read PATH           print PATH's content (exit 1 + errno name if it fails)
 *   api_tool ls DIR              print DIR's entries, sorted, one per line
 *   api_tool lines N             print "line I" for I in 0..N-1
 *   api_tool stderr TEXT         write TEXT and a newline to stderr
 *   api_tool mixed               interleave stdout and stderr lines
 *   api_tool bytes N             write N bytes (i % 251) to stdout in one fwrite
 *   api_tool clocks              check the four clocks and print one line per check
 *   api_tool random              print 2 x 16 random bytes in hex
 *   api_tool preopens            print the preopened directory names
 *   api_tool rm PATH             unlink PATH
 *   api_tool prompt              print "ready", read one line of stdin, print "got LINE"
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

extern char **environ;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_file(const char *path, const char *text, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f) {
        printf("open %s: errno %d\n", path, errno);
        return 1;
    }
    fputs(text, f);
    return fclose(f) == 0 ? 0 : 1;
}

static int read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("open %s: errno %d\n", path, errno);
        return 1;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

static int list_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s: errno %d\n", path, errno);
        return 1;
    }
    char *names[1024];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < 1024) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_str);
    for (int i = 0; i < count; i++) printf("%s\n", names[i]);
    return 0;
}

static int clocks(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    printf("realtime after 2020: %s\n", a.tv_sec > 1577836800 ? "yes" : "no");
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    int mono_ok = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec);
    printf("monotonic non-decreasing: %s\n", mono_ok ? "yes" : "no");
    __wasi_timestamp_t t = 0, res = 0;
    printf("process cputime: %d\n", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &t));
    printf("thread cputime: %d\n", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &t));
    printf("bad clock: %d\n", __wasi_clock_time_get(99, 1, &t));
    printf("res realtime: %d\n", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res));
    printf("res positive: %s\n", res > 0 ? "yes" : "no");
    printf("res bad clock: %d\n", __wasi_clock_res_get(99, &res));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: api_tool COMMAND ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "args")) {
        printf("argc=%d\n", argc);
        for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    } else if (!strcmp(cmd, "env")) {
        for (char **e = environ; *e; e++) printf("%s\n", *e);
    } else if (!strcmp(cmd, "getenv") && argc > 2) {
        const char *v = getenv(argv[2]);
        printf("%s\n", v ? v : "(unset)");
    } else if (!strcmp(cmd, "cat")) {
        char buf[1000];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
        if (n < 0) return 1;
    } else if (!strcmp(cmd, "exit") && argc > 2) {
        printf("exiting\n");
        exit(atoi(argv[2]));
    } else if (!strcmp(cmd, "return") && argc > 2) {
        return atoi(argv[2]);
    } else if (!strcmp(cmd, "trap")) {
        printf("before trap\n");
        fflush(stdout);
        __builtin_trap();
    } else if (!strcmp(cmd, "write") && argc > 3) {
        return write_file(argv[2], argv[3], "w");
    } else if (!strcmp(cmd, "append") && argc > 3) {
        return write_file(argv[2], argv[3], "a");
    } else if (!strcmp(cmd, "read") && argc > 2) {
        return read_file(argv[2]);
    } else if (!strcmp(cmd, "ls") && argc > 2) {
        return list_dir(argv[2]);
    } else if (!strcmp(cmd, "lines") && argc > 2) {
        int n = atoi(argv[2]);
        for (int i = 0; i < n; i++) printf("line %d\n", i);
    } else if (!strcmp(cmd, "stderr") && argc > 2) {
        fprintf(stderr, "%s\n", argv[2]);
    } else if (!strcmp(cmd, "mixed")) {
        for (int i = 0; i < 3; i++) {
            printf("out %d\n", i);
            fflush(stdout);
            fprintf(stderr, "err %d\n", i);
        }
    } else if (!strcmp(cmd, "bytes") && argc > 2) {
        size_t n = (size_t)atol(argv[2]);
        unsigned char *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i % 251);
        fwrite(buf, 1, n, stdout);
    } else if (!strcmp(cmd, "clocks")) {
        return clocks();
    } else if (!strcmp(cmd, "random")) {
        for (int k = 0; k < 2; k++) {
            unsigned char r[16];
            if (__wasi_random_get(r, sizeof r)) return 1;
            for (int i = 0; i < 16; i++) printf("%02x", r[i]);
            printf("\n");
        }
    } else if (!strcmp(cmd, "preopens")) {
        for (int fd = 3;; fd++) {
            __wasi_prestat_t st;
            if (__wasi_fd_prestat_get(fd, &st)) break;
            char name[256] = {0};
            size_t len = st.u.dir.pr_name_len < 255 ? st.u.dir.pr_name_len : 255;
            if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len)) return 1;
            printf("%d %s\n", fd, name);
        }
    } else if (!strcmp(cmd, "rm") && argc > 2) {
        if (unlink(argv[2])) {
            printf("unlink %s: errno %d\n", argv[2], errno);
            return 1;
        }
    } else if (!strcmp(cmd, "prompt")) {
        printf("ready\n");
        fflush(stdout);
        char line[256];
        if (!fgets(line, sizeof line, stdin)) return 1;
        printf("got %s", line);
    } else {
        fprintf(stderr, "api_tool: unknown command %s\n", cmd);
        return 2;
    }
    return 0;
}
