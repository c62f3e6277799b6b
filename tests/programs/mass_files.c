/* mass_files create DIR N | churn DIR ROUNDS BYTES | sparse FILE ROUNDS | poke FILE OFFSET |
   cut FILE SIZE: make N empty files, create and delete a file of BYTES bytes ROUNDS times
   (memory reuse), give FILE a chunk at 1 TiB and at 1 TiB + 1 MiB and truncate it to 5
   bytes ROUNDS times (its far chunks are found and freed), write one byte at OFFSET of FILE
   (made if missing), or set its size. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char block[1 << 16];

static int create_empty(const char *dir, long count) {
    char path[256];
    for (long i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) return perror(path), 1;
        close(fd);
    }
    return 0;
}

static int churn(const char *dir, long rounds, long bytes) {
    char path[256];
    memset(block, 'c', sizeof block);
    for (long r = 0; r < rounds; r++) {
        snprintf(path, sizeof path, "%s/churn%ld", dir, r % 3);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) return perror(path), 1;
        for (long done = 0; done < bytes; done += (long)sizeof block)
            if (write(fd, block, sizeof block) != (ssize_t)sizeof block) return perror("write"), 1;
        close(fd);
        if (unlink(path) != 0) return perror("unlink"), 1;
    }
    return 0;
}

static int sparse(const char *path, long rounds) {
    const off_t tib = (off_t)1 << 40;
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) return perror(path), 1;
    if (pwrite(fd, "head!", 5, 0) != 5) return perror("pwrite head"), 1;
    for (long r = 0; r < rounds; r++) {
        if (pwrite(fd, "far", 3, tib) != 3 || pwrite(fd, "farther", 7, tib + (1 << 20)) != 7)
            return perror("pwrite far"), 1;
        if (ftruncate(fd, 5) != 0) return perror("ftruncate"), 1;
    }
    char back[8] = {0};
    if (pread(fd, back, sizeof back, 0) != 5 || memcmp(back, "head!", 5) != 0) {
        fprintf(stderr, "after the truncations the file reads %.8s\n", back);
        return 1;
    }
    close(fd);
    return unlink(path) == 0 ? 0 : (perror("unlink"), 1);
}

static int poke(const char *path, long long offset) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return perror(path), 1;
    if (pwrite(fd, "x", 1, (off_t)offset) != 1) return perror("pwrite"), 1;
    return close(fd);
}

static int cut(const char *path, long long size) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return perror(path), 1;
    if (ftruncate(fd, (off_t)size) != 0) return perror("ftruncate"), 1;
    return close(fd);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "poke") == 0) return poke(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "cut") == 0) return cut(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "sparse") == 0) return sparse(argv[2], atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "create") == 0) return create_empty(argv[2], atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "churn") == 0) return churn(argv[2], atol(argv[3]), atol(argv[4]));
    fprintf(stderr, "usage: mass_files create DIR N | churn DIR ROUNDS BYTES | sparse FILE ROUNDS | poke FILE OFFSET | "
                    "cut FILE SIZE\n");
    return 2;
}
