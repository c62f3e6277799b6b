/* File contents in 64 KiB chunks, so a large file never needs one huge contiguous copy.
   Invariant: every byte of an allocated chunk at or past the file size is zero, so
   extending a file (sparsely or not) reads back zeros without extra work.

   Growing a file is two-phase: reserve takes every block the change needs (a larger slot
   array, a larger chunk 0, the missing chunks) without touching the file; only when all
   of them were had does commit put them in place. A failure frees the reservation, so an
   ENOSPC leaves the file and the allocator as they were.

   Writers of different files run in parallel: a write that only fills the file's chunks
   and adds chunks to empty slots runs under the VFS lock shared (and the file's data mutex
   if another fd could write it too), while readers read the same file. Under the shared
   lock every new chunk is zeroed before its slot is set (a release store), so a reader
   sees, for every byte, zero, the old value or the new one, never another file's freed
   bytes, whatever size it loaded: a read that overlaps a concurrent write may see part of
   it, as POSIX allows. A write that needs a larger slot array or a larger chunk 0 replaces
   memory a reader may be reading: it runs with the lock exclusive (file_write_in_place),
   except the first array and chunk 0 of a file that has none, which replace nothing. */
#include "vfs/vfs.h"
#include "base/alloc.h"
#include "base/checked.h"
#include "base/hooks.h"
#include "base/lock.h"

#define FIRST_CHUNK_MIN 64u

/* Zero-initialised and never written: bss, not 4 KiB of the binary (as const would be). */
static uint8_t zeros[4096];

/* Chunks taken but not yet placed, linked through their first bytes. */
struct spare_chunk { struct spare_chunk *next; };

struct reservation {
    uint8_t **slots;          /* a new slot array, or NULL to keep the file's */
    uint32_t slot_count;
    uint8_t *first;           /* a new, larger chunk 0, or NULL */
    uint32_t first_cap;
    struct spare_chunk *spares;
};

static uint32_t chunk_cap(const struct file_data *f, uint32_t i) {
    return i == 0 ? f->first_cap : CHUNK_SIZE;
}

static uint32_t slot_bytes(uint32_t count) { return count * (uint32_t)sizeof(uint8_t *); }

/* shared: the writer's holder under the lock shared (its block cache, alloc.h), NULL
   under the lock exclusive. */
static void *take(struct lock_holder *shared, uint32_t size) {
    return shared ? mem_alloc_shared(shared, size) : mem_alloc(size);
}

static void put(struct lock_holder *shared, void *p, uint32_t size) {
    if (shared) mem_free_shared(shared, p, size);
    else mem_free(p, size);
}

static uint64_t available(struct lock_holder *shared) {
    if (!shared) return mem_available_bytes();
    mem_lock_shared(shared);
    uint64_t bytes = mem_available_bytes();
    mem_unlock_shared(shared);
    return bytes;
}

static void release(struct reservation *r, struct lock_holder *shared) {
    put(shared, r->slots, slot_bytes(r->slot_count));
    put(shared, r->first, r->first_cap);
    while (r->spares) {
        struct spare_chunk *c = r->spares;
        r->spares = c->next;
        put(shared, c, CHUNK_SIZE);
    }
}

static bool chunk_missing(const struct file_data *f, uint32_t i) {
    return i >= f->chunk_slots || !f->chunks[i];
}

/* Chunks 1.. in [first, last] that do not exist yet, counting no further than limit. */
static uint32_t missing_chunks(const struct file_data *f, uint32_t first, uint32_t last, uint32_t limit) {
    uint32_t n = 0;
    if (first == 0) first = 1;
    /* Past the slot array every chunk is missing: no need to look at each. */
    uint32_t known_end = f->chunk_slots <= last ? f->chunk_slots : last + 1;
    for (uint32_t i = first; i < known_end && n <= limit; i++) n += chunk_missing(f, i);
    if (last >= known_end && first <= last) {
        uint32_t from = first > known_end ? first : known_end;
        uint64_t total = (uint64_t)n + ((uint64_t)last - from + 1);
        n = total > limit ? limit + 1 : (uint32_t)total;
    }
    return n;
}

static uint32_t first_chunk_cap(const struct file_data *f, uint64_t end) {
    uint32_t need = end < CHUNK_SIZE ? (uint32_t)end : CHUNK_SIZE;
    if (need <= f->first_cap) return f->first_cap;
    uint32_t cap = f->first_cap ? f->first_cap * 2 : FIRST_CHUNK_MIN;
    while (cap < need) cap *= 2;
    return cap > CHUNK_SIZE ? CHUNK_SIZE : cap;
}

static errno_t reserve(const struct file_data *f, uint64_t offset, uint64_t end, struct reservation *r,
                       struct lock_holder *shared) {
    mem_zero(r, sizeof *r);
    uint32_t first = (uint32_t)(offset >> CHUNK_SHIFT), last = (uint32_t)((end - 1) >> CHUNK_SHIFT);
    uint32_t missing = missing_chunks(f, first, last, 0);
    if (missing) { /* refused before anything is taken if the budget cannot hold them */
        uint64_t bytes = available(shared);
        uint32_t budget = bytes / CHUNK_SIZE > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)(bytes / CHUNK_SIZE);
        missing = missing_chunks(f, first, last, budget);
        if (missing > budget) return E_NOSPC;
    }
    if (last >= f->chunk_slots) {
        uint32_t count = f->chunk_slots ? f->chunk_slots : 1;
        while (count <= last) count *= 2; /* last < 2^28: no overflow */
        r->slots = take(shared, slot_bytes(count));
        if (!r->slots) return E_NOSPC;
        r->slot_count = count;
    }
    if (first == 0 && first_chunk_cap(f, end) != f->first_cap) {
        r->first_cap = first_chunk_cap(f, end);
        if (!(r->first = take(shared, r->first_cap))) goto fail;
    }
    for (uint32_t i = 0; i < missing; i++) {
        struct spare_chunk *c = take(shared, CHUNK_SIZE);
        if (!c) goto fail;
        c->next = r->spares;
        r->spares = c;
    }
    return E_SUCCESS;
fail:
    release(r, shared);
    return E_NOSPC;
}

/* Puts the reserved blocks in place. overwrite: the caller writes every byte of
   [offset, end) right after, so chunks it covers whole need no zeroing, unless readers
   may read them meanwhile (the writer holds the lock shared). */
static void commit(struct file_data *f, uint64_t offset, uint64_t end, struct reservation *r, bool overwrite,
                   struct lock_holder *shared) {
    bool readers = shared != NULL;
    if (r->slots) {
        mem_copy(r->slots, f->chunks, slot_bytes(f->chunk_slots));
        mem_zero(r->slots + f->chunk_slots, slot_bytes(r->slot_count - f->chunk_slots));
        uint8_t **old = f->chunks;
        uint32_t old_count = f->chunk_slots;
        /* The array, then its length: a reader (under the shared lock, only ever of a file
           that had no array: file_write_in_place) bounds its index by the length. */
        (void)__atomic_exchange_n(&f->chunks, r->slots, __ATOMIC_SEQ_CST);
        (void)__atomic_exchange_n(&f->chunk_slots, r->slot_count, __ATOMIC_SEQ_CST);
        put(shared, old, slot_bytes(old_count));
    }
    if (r->first) {
        if (f->chunks[0]) mem_copy(r->first, f->chunks[0], f->first_cap);
        mem_zero(r->first + f->first_cap, r->first_cap - f->first_cap);
        put(shared, f->chunks[0], f->first_cap);
        (void)__atomic_exchange_n(&f->chunks[0], r->first, __ATOMIC_SEQ_CST); /* after the zeros */
        __atomic_store_n(&f->first_cap, r->first_cap, __ATOMIC_RELAXED); /* reclaim_inode reads it */
    }
    uint32_t first = (uint32_t)(offset >> CHUNK_SHIFT), last = (uint32_t)((end - 1) >> CHUNK_SHIFT);
    for (uint32_t i = first ? first : 1; i <= last && r->spares; i++) {
        if (f->chunks[i]) continue;
        struct spare_chunk *c = r->spares;
        r->spares = c->next;
        uint64_t chunk_start = (uint64_t)i << CHUNK_SHIFT;
        bool whole = overwrite && offset <= chunk_start && end >= chunk_start + CHUNK_SIZE;
        if (!whole || readers) mem_zero(c, CHUNK_SIZE);
        __atomic_store_n(&f->chunks[i], (uint8_t *)c, __ATOMIC_RELEASE); /* rare: once per chunk */
    }
    mem_zero(r, sizeof *r);
}

static errno_t prepare_range(struct file_data *f, uint64_t offset, uint64_t end, bool overwrite) {
    struct reservation r;
    errno_t err = reserve(f, offset, end, &r, NULL);
    if (!err) commit(f, offset, end, &r, overwrite, NULL);
    return err;
}

/* prepare_range for a writer holding the lock shared: small blocks from its cache, chunks
   under the allocator's mutex (writers of different files meet on it only for a new chunk).
   In place (file_write_in_place), a file with slots has chunk 0 large enough. */
errno_t file_prepare_shared(struct inode *file, uint64_t offset, uint64_t end, struct lock_holder *writer) {
    if (end <= offset) return E_SUCCESS;
    struct file_data *f = &file->file;
    uint32_t first = (uint32_t)(offset >> CHUNK_SHIFT), last = (uint32_t)((end - 1) >> CHUNK_SHIFT);
    bool chunk0_fits = first > 0 || first_chunk_cap(f, end) == f->first_cap;
    if (f->chunk_slots && chunk0_fits && missing_chunks(f, first, last, 0) == 0) return E_SUCCESS;
    struct reservation r;
    errno_t err = reserve(f, offset, end, &r, writer);
    if (!err) commit(f, offset, end, &r, true, writer);
    return err;
}

bool file_write_in_place(const struct inode *file, uint64_t offset, uint64_t end) {
    const struct file_data *f = &file->file;
    if (end <= offset) return true;
    if (end > MAX_FILE_SIZE) return false; /* EFBIG, maybe after some iovecs: said exclusive */
    if (f->chunk_slots == 0) return true; /* the first array and chunk 0 replace nothing */
    if (((end - 1) >> CHUNK_SHIFT) >= f->chunk_slots) return false;
    return offset >= CHUNK_SIZE || first_chunk_cap(f, end) == f->first_cap;
}

/* The first slot from i on that holds a chunk, or count. A sparse file far out has
   millions of empty slots: this loop is what a truncation of it costs. */
static uint32_t next_chunk(uint8_t *const *chunks, uint32_t i, uint32_t count) {
    while (i < count && !chunks[i]) i++;
    return i;
}

/* shared: as take's. */
static void free_chunks_from(struct file_data *f, uint32_t first, struct lock_holder *shared) {
    uint8_t **chunks = f->chunks;
    uint32_t count = f->chunk_slots;
    for (uint32_t i = next_chunk(chunks, first, count); i < count; i = next_chunk(chunks, i + 1, count)) {
        put(shared, chunks[i], chunk_cap(f, i));
        chunks[i] = NULL;
        if (i == 0) __atomic_store_n(&f->first_cap, 0, __ATOMIC_RELAXED); /* reclaim_inode reads it */
    }
}

void file_write_prepared(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len) {
    if (!len) return; /* moves no size, even past the end */
    uint64_t end = offset + len;
    struct file_data *f = &file->file;
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = end - offset;
        hook_copy_in(core_addr(f->chunks[i] + within), guest_src, (uint32_t)n);
        guest_src += (uint32_t)n;
        offset += n;
    }
    /* A plain store: a reader that sees it before the data reads zeros or old bytes of
       this file (above), and an atomic one would cost a fence per append. */
    if (end > file->size) file->size = end;
}

errno_t file_write_from_guest(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len) {
    if (!len) return E_SUCCESS;
    uint64_t end = offset + len; /* offset_range_valid: no wrap */
    if (end > MAX_FILE_SIZE) return E_FBIG;
    errno_t err = prepare_range(&file->file, offset, end, true);
    if (!err) file_write_prepared(file, offset, guest_src, len);
    return err;
}

static void zeros_to_guest(uint32_t guest_dst, uint32_t len) {
    while (len) {
        uint32_t n = len < sizeof zeros ? len : (uint32_t)sizeof zeros;
        hook_copy_out(guest_dst, core_addr(zeros), n);
        guest_dst += n;
        len -= n;
    }
}

/* The caller has clamped [offset, offset+len) to the file size and checked guest_dst. */
void file_read_to_guest(struct inode *file, uint64_t offset, uint32_t guest_dst, uint32_t len) {
    struct file_data *f = &file->file;
    uint64_t end = offset + len;
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = end - offset;
        uint8_t *chunk = i < __atomic_load_n(&f->chunk_slots, __ATOMIC_ACQUIRE)
                             ? __atomic_load_n(&__atomic_load_n(&f->chunks, __ATOMIC_ACQUIRE)[i], __ATOMIC_ACQUIRE)
                             : NULL;
        uint32_t stored = chunk && within < chunk_cap(f, i) ? chunk_cap(f, i) - within : 0;
        if (stored > n) stored = (uint32_t)n;
        if (stored) hook_copy_out(guest_dst, core_addr(chunk + within), stored);
        if (n > stored) zeros_to_guest(guest_dst + stored, (uint32_t)n - stored);
        guest_dst += (uint32_t)n;
        offset += n;
    }
}

errno_t file_write_from_core(struct inode *file, uint64_t offset, const uint8_t *src, uint32_t len) {
    if (!len) return E_SUCCESS;
    uint64_t end = offset + len; /* offsets below MAX_FILE_SIZE: no wrap */
    if (end > MAX_FILE_SIZE) return E_FBIG;
    struct file_data *f = &file->file;
    errno_t err = prepare_range(f, offset, end, true);
    if (err) return err;
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint32_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = (uint32_t)(end - offset);
        mem_copy(f->chunks[i] + within, src, n);
        src += n;
        offset += n;
    }
    if (end > file->size) file->size = end;
    return E_SUCCESS;
}

/* The caller has clamped [offset, offset+len) to the file size. */
void file_read_to_core(const struct inode *file, uint64_t offset, uint8_t *dst, uint32_t len) {
    const struct file_data *f = &file->file;
    uint64_t end = offset + len;
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint32_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = (uint32_t)(end - offset);
        const uint8_t *chunk = i < f->chunk_slots ? f->chunks[i] : NULL;
        uint32_t stored = chunk && within < chunk_cap(f, i) ? chunk_cap(f, i) - within : 0;
        if (stored > n) stored = n;
        if (stored) mem_copy(dst, chunk + within, stored);
        if (n > stored) mem_zero(dst + stored, n - stored);
        dst += n;
        offset += n;
    }
}

/* After a truncation: a slot array much larger than the file needs gives its memory back
   (kept as it is if the smaller one cannot be had). */
static void shrink_slots(struct file_data *f, uint32_t keep, struct lock_holder *shared) {
    uint32_t count = keep ? 1 : 0;
    while (count && count < keep) count *= 2;
    if (count * 2 > f->chunk_slots) return;
    uint8_t **slots = count ? take(shared, slot_bytes(count)) : NULL;
    if (count && !slots) return;
    if (count) mem_copy(slots, f->chunks, slot_bytes(count));
    put(shared, f->chunks, slot_bytes(f->chunk_slots));
    f->chunks = slots;
    (void)__atomic_exchange_n(&f->chunk_slots, count, __ATOMIC_SEQ_CST); /* as commit publishes it */
}

/* shared: as take's. */
static errno_t set_size(struct inode *file, uint64_t size, struct lock_holder *shared) {
    if (size > MAX_FILE_SIZE) return E_FBIG;
    struct file_data *f = &file->file;
    if (size <= file->size) {
        uint32_t keep = (uint32_t)((size + CHUNK_SIZE - 1) >> CHUNK_SHIFT);
        free_chunks_from(f, keep, shared);
        shrink_slots(f, keep, shared);
        uint32_t within = (uint32_t)(size & (CHUNK_SIZE - 1));
        uint32_t last = (uint32_t)(size >> CHUNK_SHIFT);
        if (within && last < f->chunk_slots && f->chunks[last] && within < chunk_cap(f, last))
            mem_zero(f->chunks[last] + within, chunk_cap(f, last) - within);
    }
    file->size = size;
    return E_SUCCESS;
}

errno_t file_set_size(struct inode *file, uint64_t size) { return set_size(file, size, NULL); }

/* Small blocks go to the holder's cache, without the allocator's mutex: an O_TRUNC of a
   small file took it at every open, and threads rewriting their own files queued on it. */
errno_t file_set_size_shared(struct inode *file, uint64_t size, struct lock_holder *holder) {
    return set_size(file, size, holder);
}

errno_t file_fill(struct inode *file, uint64_t size,
                  int32_t (*read)(void *ctx, uint64_t offset, uintptr_t core_dst, uint32_t len), void *ctx) {
    if (size > MAX_FILE_SIZE) return E_FBIG;
    if (size == 0) return E_SUCCESS;
    struct file_data *f = &file->file;
    errno_t err = prepare_range(f, 0, size, true); /* every chunk, or ENOSPC and none */
    if (err) return err;
    file->size = size;
    uint64_t offset = 0;
    while (offset < size) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = chunk_cap(f, i) - within;
        if (n > size - offset) n = size - offset;
        int32_t got = read(ctx, offset, core_addr(f->chunks[i] + within), (uint32_t)n);
        if (got < 0 || (uint64_t)got > n) {
            err = got < 0 && got >= -(int32_t)E_NOTCAPABLE ? (errno_t)-got : E_IO;
            break;
        }
        if (got == 0) break; /* the source ended early: the file ends here */
        offset += (uint32_t)got;
    }
    /* Whole chunks were not zeroed (overwrite): what was not read must go, or be zeros. */
    (void)file_set_size(file, err ? 0 : offset);
    return err;
}

errno_t file_allocate(struct inode *file, uint64_t end) {
    if (end > MAX_FILE_SIZE) return E_FBIG;
    if (end <= file->size) return E_SUCCESS;
    errno_t err = prepare_range(&file->file, file->size, end, false);
    if (!err) file->size = end;
    return err;
}

errno_t file_allocate_shared(struct inode *file, uint64_t end, struct lock_holder *holder) {
    mem_lock_shared(holder);
    errno_t err = file_allocate(file, end);
    mem_unlock_shared(holder);
    return err;
}

void file_free(struct inode *file) {
    struct file_data *f = &file->file;
    free_chunks_from(f, 0, NULL);
    mem_free(f->chunks, slot_bytes(f->chunk_slots));
}

/* Chunks past the end of the file hold nothing (they were freed on truncation), and the
   bytes of the last chunk past the size are zero. Only the first 64 Ki slots past the end
   are looked at: a sparse file far out has millions, and fsck runs after every fuzzed call. */
uint32_t file_check(const struct inode *file) {
    const struct file_data *f = &file->file;
    uint32_t problems = (f->chunk_slots && !f->chunks) + (f->first_cap > CHUNK_SIZE);
    uint64_t chunks_in_size = (file->size + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
    for (uint64_t i = chunks_in_size; i < f->chunk_slots && i < chunks_in_size + 65536; i++)
        if (f->chunks[i]) problems++;
    uint32_t within = (uint32_t)(file->size & (CHUNK_SIZE - 1));
    uint32_t last = (uint32_t)(file->size >> CHUNK_SHIFT);
    if (within && last < f->chunk_slots && f->chunks[last]) {
        for (uint32_t b = within; b < chunk_cap(f, last); b++)
            if (f->chunks[last][b]) { problems++; break; }
    }
    return problems;
}

/* Chunk i holds data (was written or allocated); past the slots, or an empty slot, is a
   hole. Lock held (either mode: a slot only goes from empty to a chunk under it). */
static bool chunk_has_data(const struct file_data *f, uint64_t i) {
    return i < __atomic_load_n(&f->chunk_slots, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&__atomic_load_n(&f->chunks, __ATOMIC_ACQUIRE)[i], __ATOMIC_ACQUIRE) != NULL;
}

uint64_t file_seek_data(const struct inode *file, uint64_t offset, bool hole) {
    uint64_t size = file->size;
    if (offset >= size) return UINT64_MAX;
    const struct file_data *f = &file->file;
    uint64_t last = (size - 1) >> CHUNK_SHIFT;
    for (uint64_t i = offset >> CHUNK_SHIFT; i <= last; i++) {
        if (chunk_has_data(f, i) != hole) {
            uint64_t start = i << CHUNK_SHIFT;
            return start > offset ? start : offset;
        }
        /* a long run of holes past the slots: nothing more to find */
        if (!hole && i >= __atomic_load_n(&f->chunk_slots, __ATOMIC_ACQUIRE)) return UINT64_MAX;
    }
    return hole ? size : UINT64_MAX; /* the end of the file is a hole, as lseek says */
}
