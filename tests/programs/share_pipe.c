/* Stream tools for the pipe and pipeline tests (each reads fd 0 / writes fd 1 with raw
 * read()/write(), in chunks of varying size, so no stdio buffering hides what the pipe does).
 *
 *   share_pipe gen BYTES SEED     write BYTES pseudo-random bytes (an LCG seeded with SEED);
 *                                 a failing write: "gen: EPIPE after N bytes" on stderr,
 *                                 exit 3 for EPIPE, 4 for any other error
 *   share_pipe sum                read to EOF; print "BYTES CRC32" (zlib's crc32, hex)
 *   share_pipe cat                copy stdin to stdout
 *   share_pipe head N             copy the first N bytes of stdin to stdout, then exit
 *                                 without reading more (closing its end of the pipe)
 *   share_pipe upper              copy stdin to stdout in upper case
 *   share_pipe tofile PATH        copy stdin into PATH (created/truncated); print its size
 *   share_pipe fromfile PATH      copy PATH to stdout
 *   share_pipe stat FD            print "pipe" if FD is a pipe end (filetype unknown), else
 *                                 the filetype number
 *   share_pipe fstat FD           print "fstat ok" if fstat(FD) works, else "fstat errno E"
 *   share_pipe trap               execute `unreachable` without reading stdin
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static unsigned char buffer[1 << 17];

/* Chunk sizes cycle through odd values so reads and writes never line up with the ring. */
static size_t chunk_size(unsigned step) {
    static const size_t sizes[] = {1, 4093, 65536, 777, 131072, 12345, 65535, 100000};
    return sizes[step % (sizeof sizes / sizeof *sizes)];
}

static int write_all(const unsigned char *data, size_t len, long long *done, const char *who) {
    while (len) {
        ssize_t n = write(1, data, len);
        if (n < 0) {
            int e = errno;
            fprintf(stderr, "%s: %s after %lld bytes\n", who, e == EPIPE ? "EPIPE" : strerror(e),
                    *done);
            return e == EPIPE ? 3 : 4;
        }
        data += n;
        len -= (size_t)n;
        *done += n;
    }
    return 0;
}

static int gen(long long total, uint32_t seed) {
    uint32_t state = seed;
    long long done = 0;
    unsigned step = 0;
    while (done < total) {
        size_t n = chunk_size(step++);
        if ((long long)n > total - done) n = (size_t)(total - done);
        for (size_t i = 0; i < n; i++) {
            state = state * 1664525u + 1013904223u;
            buffer[i] = (unsigned char)(state >> 24);
        }
        int err = write_all(buffer, n, &done, "gen");
        if (err) return err;
    }
    return 0;
}

static uint32_t crc_table[256];

static uint32_t crc32_update(uint32_t crc, const unsigned char *data, size_t len) {
    if (!crc_table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* Copy fd `in` to stdout, at most `limit` bytes (-1: to EOF), optionally in upper case. */
static int copy(int in, long long limit, int upper) {
    long long done = 0;
    unsigned step = 3;
    while (limit < 0 || done < limit) {
        size_t want = chunk_size(step++);
        if (limit >= 0 && (long long)want > limit - done) want = (size_t)(limit - done);
        ssize_t n = read(in, buffer, want);
        if (n < 0) {
            fprintf(stderr, "read: %s\n", strerror(errno));
            return 4;
        }
        if (n == 0) break;
        if (upper) {
            for (ssize_t i = 0; i < n; i++) {
                if (buffer[i] >= 'a' && buffer[i] <= 'z') buffer[i] -= 'a' - 'A';
            }
        }
        long long written = 0;
        int err = write_all(buffer, (size_t)n, &written, "copy");
        if (err) return err;
        done += n;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: share_pipe COMMAND ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "gen") && argc > 3) {
        return gen(atoll(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10));
    } else if (!strcmp(cmd, "sum")) {
        uint32_t crc = 0;
        long long total = 0;
        unsigned step = 5;
        for (;;) {
            ssize_t n = read(0, buffer, chunk_size(step++));
            if (n < 0) {
                fprintf(stderr, "sum: read: %s\n", strerror(errno));
                return 4;
            }
            if (n == 0) break;
            crc = crc32_update(crc, buffer, (size_t)n);
            total += n;
        }
        printf("%lld %08x\n", total, (unsigned)crc);
    } else if (!strcmp(cmd, "cat")) {
        return copy(0, -1, 0);
    } else if (!strcmp(cmd, "head") && argc > 2) {
        return copy(0, atoll(argv[2]), 0);
    } else if (!strcmp(cmd, "upper")) {
        return copy(0, -1, 1);
    } else if (!strcmp(cmd, "tofile") && argc > 2) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            fprintf(stderr, "tofile: %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        long long total = 0;
        ssize_t n;
        while ((n = read(0, buffer, sizeof buffer)) > 0) {
            if (write(fd, buffer, (size_t)n) != n) return 4;
            total += n;
        }
        close(fd);
        if (n < 0) return 4;
        printf("%lld\n", total);
    } else if (!strcmp(cmd, "fromfile") && argc > 2) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "fromfile: %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        int err = copy(fd, -1, 0);
        close(fd);
        return err;
    } else if (!strcmp(cmd, "stat") && argc > 2) {
        __wasi_fdstat_t st;
        __wasi_errno_t err = __wasi_fd_fdstat_get((__wasi_fd_t)atoi(argv[2]), &st);
        if (err) {
            printf("errno %d\n", err);
            return 1;
        }
        if (st.fs_filetype == __WASI_FILETYPE_UNKNOWN) printf("pipe\n");
        else printf("%d\n", st.fs_filetype);
    } else if (!strcmp(cmd, "fstat") && argc > 2) {
        struct stat st;
        if (fstat(atoi(argv[2]), &st)) printf("fstat errno %d\n", errno);
        else printf("fstat ok\n");
    } else if (!strcmp(cmd, "trap")) {
        __builtin_trap();
    } else {
        fprintf(stderr, "share_pipe: unknown command %s\n", cmd);
        return 2;
    }
    return 0;
}
