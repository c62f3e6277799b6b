/* A realistic libc program: stdio streams, stat/fstat, mkdir -p, directory walk, rename,
 * truncate, lseek, access, chdir/getcwd (emulated by wasi-libc), realpath-free path
 * handling, and errno values as a C program sees them. */
#include <dirent.h>
#include <sys/stat.h>
#include "wasi_test.h"

static int walk(const char *path, int depth, int *files, long *bytes) {
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    char names[64][64];
    int n = 0;
    while ((e = readdir(d)) && n < 64) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(names[n++], 64, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) {
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        struct stat st;
        if (lstat(child, &st)) return -1;
        printf("%*s%s%s", depth * 2, "", names[i], S_ISDIR(st.st_mode) ? "/" : S_ISLNK(st.st_mode) ? "@" : "");
        if (S_ISREG(st.st_mode)) {
            printf(" (%lld bytes)", (long long)st.st_size);
            (*files)++;
            *bytes += st.st_size;
        }
        printf("\n");
        if (S_ISDIR(st.st_mode) && walk(child, depth + 1, files, bytes)) return -1;
    }
    return 0;
}

int main(void) {
    SECTION("stdio streams");
    FILE *f = fopen("/sandbox/notes.txt", "w");
    EXPECT_TRUE("fopen w", f != NULL);
    for (int i = 1; i <= 100; i++) fprintf(f, "line %d of %d\n", i, 100);
    EXPECT_LIBC("fclose", fclose(f), 0);
    f = fopen("/sandbox/notes.txt", "r");
    char line[64];
    int count = 0;
    char last[64] = "";
    while (fgets(line, sizeof line, f)) {
        count++;
        strcpy(last, line);
    }
    EXPECT_U64("lines read", count, 100);
    EXPECT_STR("last line", last, strlen(last), "line 100 of 100\n");
    EXPECT_LIBC("fseek to 5", fseek(f, 5, SEEK_SET), 0);
    EXPECT_U64("ftell", ftell(f), 5);
    EXPECT_TRUE("fgets after fseek", fgets(line, sizeof line, f) && !strcmp(line, "1 of 100\n"));
    EXPECT_LIBC("fclose", fclose(f), 0);
    f = fopen("/sandbox/notes.txt", "r+");
    EXPECT_LIBC("fputs over start", fputs("LINE", f), 0);
    fclose(f);
    f = fopen("/sandbox/notes.txt", "a+");
    fputs("appended\n", f);
    rewind(f);
    EXPECT_TRUE("a+ reads from start", fgets(line, sizeof line, f) && !strcmp(line, "LINE 1 of 100\n"));
    fclose(f);
    EXPECT_TRUE("fopen missing for reading fails", fopen("/sandbox/missing", "r") == NULL);
    EXPECT_STR("errno", errname(errno), strlen(errname(errno)), "ENOENT");
    EXPECT_TRUE("fopen dir for writing fails", fopen("/sandbox", "w") == NULL);
    EXPECT_STR("errno", errname(errno), strlen(errname(errno)), "EISDIR");

    SECTION("stat");
    struct stat st, st2;
    EXPECT_LIBC("stat", stat("/sandbox/notes.txt", &st), 0);
    EXPECT_TRUE("S_ISREG", S_ISREG(st.st_mode));
    EXPECT_U64("st_size", st.st_size, 1501);
    EXPECT_U64("st_nlink", st.st_nlink, 1);
    int fd = open("/sandbox/notes.txt", O_RDONLY);
    EXPECT_LIBC("fstat", fstat(fd, &st2), 0);
    EXPECT_TRUE("stat and fstat agree on ino/dev/size", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev && st.st_size == st2.st_size);
    EXPECT_U64("lseek END", lseek(fd, 0, SEEK_END), 1501);
    EXPECT_U64("lseek CUR -1", lseek(fd, -1, SEEK_CUR), 1500);
    EXPECT_LIBC("lseek negative", lseek(fd, -5000, SEEK_CUR), EINVAL);
    close(fd);
    EXPECT_LIBC("stat missing", stat("/sandbox/nope", &st), ENOENT);
    EXPECT_LIBC("access F_OK", access("/sandbox/notes.txt", F_OK), 0);
    EXPECT_LIBC("access missing", access("/sandbox/nope", F_OK), ENOENT);
    EXPECT_LIBC("truncate", truncate("/sandbox/notes.txt", 10), 0);
    EXPECT_LIBC("stat", stat("/sandbox/notes.txt", &st), 0);
    EXPECT_U64("size after truncate", st.st_size, 10);
    fd = open("/sandbox/notes.txt", O_RDWR);
    EXPECT_LIBC("ftruncate grow", ftruncate(fd, 4096), 0);
    EXPECT_LIBC("fstat", fstat(fd, &st), 0);
    EXPECT_U64("size after ftruncate", st.st_size, 4096);
    close(fd);

    SECTION("tree");
    EXPECT_LIBC("mkdir project", mkdir("/sandbox/project", 0755), 0);
    EXPECT_LIBC("mkdir project/src", mkdir("/sandbox/project/src", 0755), 0);
    EXPECT_LIBC("mkdir project/src/lib", mkdir("/sandbox/project/src/lib", 0755), 0);
    EXPECT_LIBC("mkdir project/docs", mkdir("/sandbox/project/docs", 0755), 0);
    const char *files[] = {"project/README", "project/src/main.c", "project/src/lib/util.c",
                           "project/src/lib/util.h", "project/docs/guide.md"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[128];
        snprintf(path, sizeof path, "/sandbox/%s", files[i]);
        f = fopen(path, "w");
        for (size_t k = 0; k <= i; k++) fprintf(f, "content of %s\n", files[i]);
        fclose(f);
    }
    EXPECT_LIBC("symlink", symlink("src/main.c", "/sandbox/project/main-link"), 0);
    int nfiles = 0;
    long nbytes = 0;
    EXPECT_LIBC("walk", walk("/sandbox/project", 0, &nfiles, &nbytes), 0);
    EXPECT_U64("files", nfiles, 5);
    EXPECT_LIBC("rename dir", rename("/sandbox/project/docs", "/sandbox/project/src/docs"), 0);
    EXPECT_LIBC("rename file over file", rename("/sandbox/project/README", "/sandbox/project/src/main.c"), 0);
    nfiles = 0;
    nbytes = 0;
    EXPECT_LIBC("walk again", walk("/sandbox/project", 0, &nfiles, &nbytes), 0);
    EXPECT_U64("files", nfiles, 4);
    EXPECT_LIBC("rmdir non-empty", rmdir("/sandbox/project/src"), ENOTEMPTY);
    EXPECT_LIBC("unlink dir", unlink("/sandbox/project/src"), EISDIR);

    SECTION("cwd");
    EXPECT_LIBC("chdir", chdir("/sandbox/project/src"), 0);
    char cwd[256];
    EXPECT_TRUE("getcwd", getcwd(cwd, sizeof cwd) != NULL);
    EXPECT_STR("cwd", cwd, strlen(cwd), "/sandbox/project/src");
    EXPECT_LIBC("open relative", fd = open("lib/util.c", O_RDONLY), 0);
    close(fd);
    EXPECT_LIBC("open ../README (moved away)", open("../README", O_RDONLY), ENOENT);
    EXPECT_LIBC("chdir ..", chdir(".."), 0);
    EXPECT_TRUE("getcwd", getcwd(cwd, sizeof cwd) != NULL);
    EXPECT_STR("cwd (wasi-libc keeps the ..)", cwd, strlen(cwd), "/sandbox/project/src/..");
    EXPECT_LIBC("chdir to a file", chdir("main-link"), ENOTDIR);
    EXPECT_LIBC("chdir missing", chdir("missing"), ENOENT);
    return done();
}
