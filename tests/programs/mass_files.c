/* mass_files create DIR N | churn DIR ROUNDS BYTES: make N empty files, or create and delete
   a file of BYTES bytes ROUNDS times (memory reuse). */
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

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "create") == 0) return create_empty(argv[2], atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "churn") == 0) return churn(argv[2], atol(argv[3]), atol(argv[4]));
    fprintf(stderr, "usage: mass_files create DIR N | churn DIR ROUNDS BYTES\n");
    return 2;
}
