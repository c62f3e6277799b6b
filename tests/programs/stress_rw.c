/* Readers of a file that others are writing, while freed memory is full of other files'
   bytes: `stress_rw ROLE DIR ID ITERATIONS`.

   writer: writes 0xAB runs at random offsets of DIR/shared (up to 4 MiB, so inside holes,
           across chunk edges, whole 64 KiB chunks, and appends), through one fd; two
           writers make the file open twice, so both the in-place and the locked paths run.
   churn:  creates, fills with 0xCD and deletes files of 64-200 KiB, so that the chunks the
           writers get were another file's a moment ago.
   reader: preads random ranges of DIR/shared and checks that every byte is 0 or 0xAB:
           a 0xCD is another file's data, and any other byte is garbage.
   relinker: replaces DIR/f0..f3 by new files of 0xAB (unlink then create, or rename a new
           file over them), so that their inodes die while openers hold them.
   opener: opens DIR/f0..f3 read-only (ENOENT allowed), reads them, checks the bytes as a
           reader does, and closes: the last close of an unlinked file frees it.
   creator: creates (O_CREAT|O_EXCL), writes one byte to, closes and unlinks DIR/d/c0..c15,
           in one directory shared with other creators.
   lister: lists DIR/d and stats every name it lists: each name must be one of c0..c15,
           and each stat ENOENT or a regular file of at most one byte.
   renamer: writes a record ("renamer ID I", padded to 64 bytes) into DIR/r/tmpID and
           renames it over DIR/r/final, again and again, as a build replaces its outputs.
   watcher: stats, opens and reads DIR/r/final, which exists throughout: a rename replaces
           it at one moment, so ENOENT is a failure, and so is anything read but a whole
           record; it also lists DIR/r: only final and tmpN.
   appender: opens DIR/log for appending (O_CREAT), appends one record ("appender ID I",
           padded to 64 bytes) and closes it, again and again, beside other appenders: a
           writable open joins the file under the lock shared only while no fd holds it,
           so two appenders never both write it without its data mutex.
   truncator: empties DIR/big, writes 256 KiB of 0xAB and closes it, again and again,
           emptying it by turns with O_TRUNC, or with ftruncate and then posix_fallocate
           through the open fd: under the lock shared these free (or replace) its memory at
           once.
   bigreader: opens DIR/big read-only (ENOENT allowed), preads a random 4 KiB of it, checks
           every byte is 0 or 0xAB (0xCD: churn's bytes, freed under the reader) and closes.
   mover:  moves its own files DIR/m/a/mvID_0..7 (made by the host) between DIR/m/a and
           DIR/m/b, a rename across directories that holds both directories' mutexes; each
           own file is where it put it (ENOENT is a failure).
   mcreator: creates (O_EXCL) and unlinks its own names mcID_K in DIR/m/a and DIR/m/b, under
           each directory's mutex alone, beside the movers.
   holefiller: empties DIR/holes, fills its own scratch file with 0xCD and empties it
           (its chunks are free again, full of 0xCD), makes DIR/holes 256 KiB of hole with
           ftruncate and writes its four 64 KiB chunks whole, in a shuffled order: each new
           chunk lies inside the size, where readers read, so it must be zeroed before it
           is placed, even though the write covers it whole.
   holereader: preads random 4 KiB of DIR/holes through one fd and checks every byte is 0
           or 0xAB.
   grower: empties DIR/grow, fills its own scratch file with 0xCD and empties it, then
           appends 64 KiB chunks of 0xAB to DIR/grow up to 2 MiB: each new chunk lies past
           the size, so it is placed unzeroed, and the size must not pass it before the
           bytes are in.
   growreader: fstats DIR/grow through one fd and preads 4 KiB near its end (where the
           grower appends), checking every byte is 0 or 0xAB.
   Prints "ROLE ID OPS" and exits 0, or prints what it saw on stderr and exits 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPAN (4u << 20)
#define MAX_RUN 140000u

static unsigned char buf[MAX_RUN];
static unsigned rng_state;

static unsigned rnd(unsigned n) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 4) % n;
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

/* Whether the n bytes read at at into buf are each 0 or 0xAB (else says which is not, as
   who): 0xCD is another file's data, any other byte garbage. */
static int written_or_zero(const char *who, ssize_t n, off_t at) {
    for (ssize_t b = 0; b < n; b++) {
        if (buf[b] != 0 && buf[b] != 0xAB) {
            fprintf(stderr, "%s: byte 0x%02x at %lld: not zero, not written\n", who, buf[b], (long long)(at + b));
            return 0;
        }
    }
    return 1;
}

static long writer(const char *path, long iterations) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) fail("open shared for writing");
    memset(buf, 0xAB, sizeof buf);
    for (long i = 0; i < iterations; i++) {
        unsigned kind = rnd(4);
        unsigned len = kind == 0 ? 65536 : kind == 1 ? 1 + rnd(MAX_RUN) : 1 + rnd(64);
        off_t at = kind == 0 ? (off_t)rnd(SPAN / 65536) * 65536 : (off_t)rnd(SPAN);
        if (pwrite(fd, buf, len, at) != (ssize_t)len) fail("pwrite");
    }
    close(fd);
    return iterations;
}

static long churn(const char *dir, int id, long iterations) {
    char path[256];
    memset(buf, 0xCD, sizeof buf);
    for (long i = 0; i < iterations; i++) {
        snprintf(path, sizeof path, "%s/churn%d_%ld", dir, id, i % 4);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        unsigned len = 65536 + rnd(MAX_RUN - 65536);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len) fail("churn write");
        close(fd);
        if (i % 4 == 3 && unlink(path) != 0) fail("churn unlink");
    }
    return iterations;
}

static long reader(const char *path, long iterations) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("open shared for reading");
    for (long i = 0; i < iterations; i++) {
        unsigned len = 1 + rnd(MAX_RUN);
        off_t at = (off_t)rnd(SPAN);
        ssize_t n = pread(fd, buf, len, at);
        if (n < 0) fail("pread");
        if (!written_or_zero("reader", n, at)) return -1;
    }
    close(fd);
    return iterations;
}

static long relinker(const char *dir, long iterations) {
    char path[256], fresh[256];
    memset(buf, 0xAB, sizeof buf);
    for (long i = 0; i < iterations; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i % 4);
        snprintf(fresh, sizeof fresh, "%s/fresh", dir);
        int by_rename = rnd(2);
        if (!by_rename && unlink(path) != 0 && errno != ENOENT) fail("relinker unlink");
        int fd = open(by_rename ? fresh : path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        unsigned len = 1 + rnd(MAX_RUN);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len) fail("relinker write");
        close(fd);
        if (by_rename && rename(fresh, path) != 0) fail("relinker rename");
    }
    return iterations;
}

static long opener(const char *dir, long iterations) {
    char path[256];
    long opened = 0;
    for (long i = 0; i < iterations; i++) {
        snprintf(path, sizeof path, "%s/f%u", dir, rnd(4));
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            if (errno != ENOENT) fail("opener open");
            continue;
        }
        opened++;
        ssize_t n = read(fd, buf, MAX_RUN);
        if (n < 0) fail("opener read");
        for (ssize_t b = 0; b < n; b++) {
            if (buf[b] != 0xAB) {
                fprintf(stderr, "opener: byte 0x%02x at %zd of %s: not written\n", buf[b], b, path);
                return -1;
            }
        }
        if (close(fd) != 0) fail("opener close");
    }
    return opened;
}

static long creator(const char *dir, long iterations) {
    char path[256];
    long made = 0;
    for (long i = 0; i < iterations; i++) {
        snprintf(path, sizeof path, "%s/d/c%u", dir, rnd(16));
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) {
            if (errno != EEXIST) fail("creator open");
        } else {
            made++;
            if (write(fd, "x", 1) != 1 || close(fd) != 0) fail("creator write");
        }
        if (rnd(2) && unlink(path) != 0 && errno != ENOENT) fail("creator unlink");
    }
    return made;
}

static int listed_name_ok(const char *name) {
    if (!strcmp(name, ".") || !strcmp(name, "..")) return 1;
    char *end;
    if (name[0] != 'c' || !name[1]) return 0;
    long k = strtol(name + 1, &end, 10);
    return *end == 0 && k >= 0 && k < 16;
}

static long lister(const char *dir, long iterations) {
    char path[256], sub[256];
    snprintf(sub, sizeof sub, "%s/d", dir);
    long seen = 0;
    for (long i = 0; i < iterations; i++) {
        DIR *d = opendir(sub);
        if (!d) fail("lister opendir");
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (!listed_name_ok(ent->d_name)) {
                fprintf(stderr, "lister: listed a name never made: %s\n", ent->d_name);
                return -1;
            }
            if (ent->d_name[0] == '.') continue;
            seen++;
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", sub, ent->d_name);
            if (stat(path, &st) != 0) {
                if (errno != ENOENT) fail("lister stat");
            } else if (!S_ISREG(st.st_mode) || st.st_size > 1) {
                fprintf(stderr, "lister: %s is not a file of at most one byte\n", path);
                return -1;
            }
        }
        closedir(d);
    }
    return seen;
}

#define RECORD 64

static long renamer(const char *dir, int id, long iterations) {
    char tmp[256], final[256], record[RECORD];
    snprintf(tmp, sizeof tmp, "%s/r/tmp%d", dir, id);
    snprintf(final, sizeof final, "%s/r/final", dir);
    for (long i = 0; i < iterations; i++) {
        memset(record, ' ', sizeof record);
        int n = snprintf(record, sizeof record, "renamer %d %ld", id, i);
        record[n] = ' ';
        int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0 || write(fd, record, sizeof record) != (ssize_t)sizeof record) fail("renamer write");
        if (close(fd) != 0) fail("renamer close");
        if (rename(tmp, final) != 0) fail("renamer rename");
    }
    return iterations;
}

static int record_ok(const char *record, ssize_t n) {
    int id;
    long i;
    return n == RECORD && !strncmp(record, "renamer ", 8) && sscanf(record, "renamer %d %ld", &id, &i) == 2;
}

static int renamed_name_ok(const char *name) {
    return !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "final") ||
           (!strncmp(name, "tmp", 3) && name[3] >= '0' && name[3] <= '9');
}

static long watcher(const char *dir, long iterations) {
    char final[256], sub[256], record[RECORD + 1];
    snprintf(final, sizeof final, "%s/r/final", dir);
    snprintf(sub, sizeof sub, "%s/r", dir);
    for (long i = 0; i < iterations; i++) {
        struct stat st;
        if (stat(final, &st) != 0) fail("watcher stat final");
        if (!S_ISREG(st.st_mode) || st.st_size != RECORD) {
            fprintf(stderr, "watcher: final is not a file of one record (size %lld)\n", (long long)st.st_size);
            return -1;
        }
        int fd = open(final, O_RDONLY);
        if (fd < 0) fail("watcher open final");
        ssize_t n = read(fd, record, sizeof record);
        if (close(fd) != 0) fail("watcher close");
        if (!record_ok(record, n)) {
            fprintf(stderr, "watcher: read %zd bytes that are not one record\n", n);
            return -1;
        }
        if (i % 16) continue;
        DIR *d = opendir(sub);
        if (!d) fail("watcher opendir");
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (!renamed_name_ok(ent->d_name)) {
                fprintf(stderr, "watcher: listed a name never made: %s\n", ent->d_name);
                return -1;
            }
        }
        closedir(d);
    }
    return iterations;
}

static long appender(const char *dir, int id, long iterations) {
    char path[256], record[RECORD];
    snprintf(path, sizeof path, "%s/log", dir);
    for (long i = 0; i < iterations; i++) {
        int fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0644);
        memset(record, '.', RECORD);
        memcpy(record, buf, (size_t)snprintf((char *)buf, 32, "appender %d %ld", id, i));
        record[RECORD - 1] = '\n';
        if (fd < 0 || write(fd, record, RECORD) != RECORD) fail("appender write");
        if (close(fd) != 0) fail("appender close");
    }
    return iterations;
}

#define BIG (256u << 10)

static long truncator(const char *dir, long iterations) {
    char path[256];
    snprintf(path, sizeof path, "%s/big", dir);
    memset(buf, 0xAB, sizeof buf);
    for (long i = 0; i < iterations; i++) {
        int by_fd = i & 1;
        int fd = open(path, O_CREAT | O_WRONLY | (by_fd ? 0 : O_TRUNC), 0644);
        if (fd < 0) fail("truncator open");
        if (by_fd && ftruncate(fd, 0) != 0) fail("truncator ftruncate");
        if (by_fd && posix_fallocate(fd, 0, BIG) != 0) fail("truncator posix_fallocate");
        for (unsigned done = 0; done < BIG; done += 65536)
            if (write(fd, buf, 65536) != 65536) fail("truncator write");
        if (close(fd) != 0) fail("truncator close");
    }
    return iterations;
}

static long bigreader(const char *dir, long iterations) {
    char path[256];
    snprintf(path, sizeof path, "%s/big", dir);
    long opened = 0;
    for (long i = 0; i < iterations; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            if (errno != ENOENT) fail("bigreader open");
            continue;
        }
        opened++;
        off_t at = (off_t)rnd(BIG);
        ssize_t n = pread(fd, buf, 4096, at);
        if (n < 0) fail("bigreader pread");
        if (!written_or_zero("bigreader", n, at)) return -1;
        if (close(fd) != 0) fail("bigreader close");
    }
    return opened;
}

#define HOLES (256u << 10)

static void must_truncate(int fd, off_t size, const char *what) {
    if (ftruncate(fd, size) != 0) fail(what);
}

#define GROWN (2u << 20)

/* Leaves HOLES bytes of 0xCD in free chunks: its own scratch file, written and emptied. */
static void free_chunks_of_cd(int scratch) {
    memset(buf, 0xCD, HOLES / 2);
    for (off_t at = 0; at < (off_t)HOLES; at += HOLES / 2)
        if (pwrite(scratch, buf, HOLES / 2, at) != (ssize_t)(HOLES / 2)) fail("scratch write");
    must_truncate(scratch, 0, "scratch emptied");
}

/* DIR/name opened for writing (made if missing), and the caller's own scratch file
   DIR/scratchID beside it (free_chunks_of_cd). */
static int open_with_scratch(const char *dir, const char *name, int id, int *scratch) {
    char path[256];
    snprintf(path, sizeof path, "%s/scratch%d", dir, id);
    *scratch = open(path, O_CREAT | O_RDWR, 0644);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || *scratch < 0) fail(path);
    return fd;
}

static long grower(const char *dir, int id, long iterations) {
    int own, fd = open_with_scratch(dir, "grow", id, &own);
    for (long i = 0; i < iterations; i++) {
        must_truncate(fd, 0, "grower empties grow");
        for (off_t at = 0; at < (off_t)GROWN; at += 65536) {
            if (at % HOLES == 0) free_chunks_of_cd(own);
            memset(buf, 0xAB, 65536);
            if (pwrite(fd, buf, 65536, at) != 65536) fail("grower pwrite");
        }
    }
    close(own);
    close(fd);
    return iterations;
}

static long holefiller(const char *dir, int id, long iterations) {
    int own, fd = open_with_scratch(dir, "holes", id, &own);
    for (long i = 0; i < iterations; i++) {
        must_truncate(fd, 0, "holefiller empties holes");
        free_chunks_of_cd(own);
        must_truncate(fd, HOLES, "holefiller makes holes");
        memset(buf, 0xAB, 65536);
        unsigned first = rnd(4);
        for (unsigned k = 0; k < 4; k++) {
            off_t at = (off_t)((first + k * 3) % 4) * 65536;
            if (pwrite(fd, buf, 65536, at) != 65536) fail("holefiller pwrite");
        }
    }
    close(own);
    close(fd);
    return iterations;
}


/* preads 4 KiB of DIR/name through one fd, again and again, and checks every byte:
   anywhere in its first HOLES bytes, or (near_end) in the last 64 KiB of its size now. */
static long checking_reader(const char *dir, const char *name, int near_end, long iterations) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail(path);
    for (long i = 0; i < iterations; i++) {
        struct stat st;
        if (near_end && fstat(fd, &st) != 0) fail("fstat");
        off_t at = !near_end ? (off_t)rnd(HOLES) : st.st_size > 65536 ? st.st_size - 1 - (off_t)rnd(65536) : 0;
        ssize_t n = pread(fd, buf, 4096, at);
        if (n < 0) fail("pread");
        if (!written_or_zero(name, n, at)) return -1;
    }
    close(fd);
    return iterations;
}

#define OWN_MOVED 8

static long mover(const char *dir, int id, long iterations) {
    char from[256], to[256];
    int in_b[OWN_MOVED] = {0};
    for (long i = 0; i < iterations; i++) {
        unsigned k = rnd(OWN_MOVED);
        snprintf(from, sizeof from, "%s/m/%c/mv%d_%u", dir, in_b[k] ? 'b' : 'a', id, k);
        snprintf(to, sizeof to, "%s/m/%c/mv%d_%u", dir, in_b[k] ? 'a' : 'b', id, k);
        if (rename(from, to) != 0) fail(from);
        in_b[k] = !in_b[k];
    }
    return iterations;
}

static long mcreator(const char *dir, int id, long iterations) {
    char path[256];
    for (long i = 0; i < iterations; i++) {
        snprintf(path, sizeof path, "%s/m/%c/mc%d_%u", dir, rnd(2) ? 'a' : 'b', id, rnd(4));
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd >= 0) {
            if (close(fd) != 0) fail("mcreator close");
        } else if (errno != EEXIST) {
            fail(path);
        }
        if (unlink(path) != 0) fail(path);
    }
    return iterations;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: stress_rw ROLE DIR ID ITERATIONS\n");
        return 2;
    }
    const char *role = argv[1], *dir = argv[2];
    int id = atoi(argv[3]);
    long iterations = atol(argv[4]);
    rng_state = 2654435761u * (unsigned)(id + 1);
    char path[256];
    snprintf(path, sizeof path, "%s/shared", dir);
    long done = !strcmp(role, "writer") ? writer(path, iterations)
              : !strcmp(role, "churn")  ? churn(dir, id, iterations)
              : !strcmp(role, "reader") ? reader(path, iterations)
              : !strcmp(role, "relinker") ? relinker(dir, iterations)
              : !strcmp(role, "opener") ? opener(dir, iterations)
              : !strcmp(role, "creator") ? creator(dir, iterations)
              : !strcmp(role, "lister") ? lister(dir, iterations)
              : !strcmp(role, "renamer") ? renamer(dir, id, iterations)
              : !strcmp(role, "watcher") ? watcher(dir, iterations)
              : !strcmp(role, "appender") ? appender(dir, id, iterations)
              : !strcmp(role, "truncator") ? truncator(dir, iterations)
              : !strcmp(role, "bigreader") ? bigreader(dir, iterations)
              : !strcmp(role, "mover") ? mover(dir, id, iterations)
              : !strcmp(role, "mcreator") ? mcreator(dir, id, iterations)
              : !strcmp(role, "holefiller") ? holefiller(dir, id, iterations)
              : !strcmp(role, "holereader") ? checking_reader(dir, "holes", 0, iterations)
              : !strcmp(role, "grower") ? grower(dir, id, iterations)
              : !strcmp(role, "growreader") ? checking_reader(dir, "grow", 1, iterations)
              : -2;
    if (done == -2) fprintf(stderr, "unknown role %s\n", role);
    if (done < 0) return 1;
    printf("%s %d %ld\n", role, id, done);
    return 0;
}
