/* File contents in 64 KiB chunks, so a large file never needs one huge contiguous copy;
   their slots are in a two-level table (chunk_table.h), so a sparse one costs what it
   holds. Invariant: every byte of an allocated chunk at or past the file size is zero, so
   extending a file (sparsely or not) reads back zeros without extra work.

   Growing a file is two-phase: reserve takes every block the change needs (a larger leaf 0
   or top array, new far leaves, a larger chunk 0, the missing chunks) without touching the
   file; only when all of them were had does commit put them in place. A failure frees the
   reservation, so an ENOSPC leaves the file and the allocator as they were.

   Writers of different files run in parallel: a write that only fills the file's chunks
   and adds leaves and chunks to empty slots runs under the VFS lock shared (and the file's
   data mutex if another fd could write it too), while readers read the same file. Under
   the shared lock every new chunk a reader could reach is zeroed before its slot is set (a
   release store), so a reader sees, for every byte, zero, the old value or the new one,
   never another file's freed bytes, whatever size it loaded: a read that overlaps a
   concurrent write may see part of it, as POSIX allows. A chunk the write covers whole at
   or past the size is not zeroed: no reader reads past the size it loaded, and the size
   passes that chunk only after its bytes (file_write_prepared). A write that needs a larger leaf 0, a larger top array or a
   larger chunk 0 replaces memory a reader may be reading: it runs with the lock exclusive
   (file_write_in_place), except the first ones of a file that has none, which replace
   nothing. */
#include "vfs/vfs.h"
#include "base/alloc.h"
#include "base/checked.h"
#include "base/hooks.h"
#include "base/lock.h"
#include "base/stop_test.h"
#include "vfs/chunk_table.h"

#define FIRST_CHUNK_MIN 64u

/* Zero-initialised and never written: bss, not 4 KiB of the binary (as const would be). */
static uint8_t zeros[4096];

struct reservation {
    struct table_growth table;
    uint8_t *first;           /* a new, larger chunk 0, or NULL */
    uint32_t first_cap;
    struct spare_block *spares;
};

/* Relaxed: a reader may load it while a writer gives a file its first chunk 0. */
static uint32_t chunk_cap(const struct file_data *f, uint32_t i) {
    return i == 0 ? __atomic_load_n(&f->first_cap, __ATOMIC_RELAXED) : CHUNK_SIZE;
}

static uint32_t chunk_index(uint64_t offset) { return (uint32_t)(offset >> CHUNK_SHIFT); }

static uint64_t available(struct lock_holder *shared) {
    if (!shared) return mem_available_bytes();
    mem_lock_shared(shared);
    uint64_t bytes = mem_available_bytes();
    mem_unlock_shared(shared);
    return bytes;
}

static void release(struct reservation *r, struct lock_holder *shared) {
    table_release(&r->table, shared);
    block_put(shared, r->first, r->first_cap);
    spare_free_all(&r->spares, shared, CHUNK_SIZE);
}

/* Chunks 1.. in [first, last] that do not exist yet (chunk 0 has its own capacity),
   counting no further than limit + 1. */
static uint32_t missing_chunks(const struct file_data *f, uint32_t first, uint32_t last, uint32_t limit) {
    return table_missing(f, first ? first : 1, last, limit);
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
    uint32_t first = chunk_index(offset), last = chunk_index(end - 1);
    uint32_t missing = missing_chunks(f, first, last, 0);
    if (missing) { /* refused before anything is taken if the budget cannot hold them */
        uint64_t bytes = available(shared);
        uint32_t budget = bytes / CHUNK_SIZE > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)(bytes / CHUNK_SIZE);
        missing = missing_chunks(f, first, last, budget);
        /* Exclusive, the room the holders' caches keep is taken back first (then they are
           empty, and the second call drains nothing). Asked of the lock, not of shared: a
           shared fallocate reserves under the allocator's mutex with no holder to charge
           (file_allocate_shared), and draining there emptied other threads' caches while
           they took blocks from them (fuzz regression
           tsan_shared_fallocate_drained_other_holders_caches). */
        if (missing > budget && vfs_held_exclusive() && mem_drain_caches()) return reserve(f, offset, end, r, shared);
        if (missing > budget) return E_NOSPC;
    }
    /* A far leaf is taken only for missing chunks that go in it, so the check above bounds
       how many; leaf 0 and the top array are one block each at most. */
    if (table_reserve(f, first, last, &r->table, shared)) return E_NOSPC;
    if (first == 0 && first_chunk_cap(f, end) != f->first_cap) {
        r->first_cap = first_chunk_cap(f, end);
        if (!(r->first = block_take(shared, r->first_cap))) goto fail;
    }
    for (uint32_t i = 0; i < missing; i++)
        if (!spare_add(&r->spares, shared, CHUNK_SIZE)) goto fail;
    return E_SUCCESS;
fail:
    release(r, shared);
    return E_NOSPC;
}

/* Puts the reserved blocks in place. overwrite: the caller writes every byte of
   [offset, end) right after, so chunks it covers whole need no zeroing, unless readers
   may read them meanwhile: below readable (the file's size while the writer holds the
   lock shared; readers clamp to the size they load, 0 when exclusive). Returns where the
   first chunk left unzeroed starts (NO_CHUNK_UNZEROED if none): the size must not pass it
   before the bytes are in (file_write_prepared). */
static uint64_t commit(struct file_data *f, uint64_t offset, uint64_t end, struct reservation *r, bool overwrite,
                       uint64_t readable, struct lock_holder *shared) {
    uint64_t unzeroed_from = NO_CHUNK_UNZEROED;
    uint32_t first = chunk_index(offset), last = chunk_index(end - 1);
    table_commit(f, first, last, &r->table, shared); /* every chunk of the range has a slot now */
    if (r->first) {
        uint8_t **slot0 = table_slot(f, 0), *old = *slot0;
        uint32_t old_cap = f->first_cap;
        if (old) mem_copy(r->first, old, old_cap);
        mem_zero(r->first + old_cap, r->first_cap - old_cap);
        (void)__atomic_exchange_n(slot0, r->first, __ATOMIC_SEQ_CST); /* after the zeros */
        __atomic_store_n(&f->first_cap, r->first_cap, __ATOMIC_RELAXED); /* after it: readers copy up to it */
        block_put(shared, old, old_cap); /* once nothing names it (free_slots says why) */
    }
    for (uint32_t i = first ? first : 1; i <= last && r->spares; i++) {
        if (table_chunk(f, i)) continue;
        void *c = spare_next(&r->spares);
        uint64_t chunk_start = (uint64_t)i << CHUNK_SHIFT;
        bool whole = overwrite && offset <= chunk_start && end >= chunk_start + CHUNK_SIZE;
        if (!whole || chunk_start < readable) mem_zero(c, CHUNK_SIZE);
        else if (unzeroed_from == NO_CHUNK_UNZEROED) unzeroed_from = chunk_start;
        table_place(f, i, (uint8_t *)c);
    }
    mem_zero(r, sizeof *r);
    return unzeroed_from;
}

/* Under the lock exclusive no reader reads meanwhile, but a writer may be stopped in its
   copy (a terminated Worker at the copy hook, a hook that raises): a chunk it covers whole
   is left unzeroed only at or past the size (readable), which the stop's reap or recover
   cuts back to (process_end_stopped_write). Inside the size (a hole the write fills) it was
   left unzeroed too, and a write stopped before it reached that chunk left another file's
   freed bytes there, inside the size, read by anyone. */
static errno_t prepare_range(struct file_data *f, uint64_t offset, uint64_t end, bool overwrite, uint64_t readable) {
    struct reservation r;
    errno_t err = reserve(f, offset, end, &r, NULL);
    if (!err) (void)commit(f, offset, end, &r, overwrite, readable, NULL);
    return err;
}

/* prepare_range for a writer holding the lock shared: small blocks from its cache, chunks
   under the allocator's mutex (writers of different files meet on it only for a new chunk).
   In place (file_write_in_place), a file with chunk 0 has it large enough. */
uint64_t file_prepare_shared(struct inode *file, uint64_t offset, uint64_t end, struct lock_holder *writer) {
    if (end <= offset) return NO_CHUNK_UNZEROED;
    struct file_data *f = &file->file;
    uint32_t first = chunk_index(offset), last = chunk_index(end - 1);
    bool chunk0_fits = first > 0 || first_chunk_cap(f, end) == f->first_cap;
    /* Every chunk there (chunk 0 too, if it fits): the table covers the range already. */
    if (chunk0_fits && missing_chunks(f, first, last, 0) == 0) return NO_CHUNK_UNZEROED;
    struct reservation r;
    if (reserve(f, offset, end, &r, writer)) return PREPARE_NO_ROOM;
    return commit(f, offset, end, &r, true, file->size, writer);
}

bool file_write_in_place(const struct inode *file, uint64_t offset, uint64_t end) {
    const struct file_data *f = &file->file;
    if (end <= offset) return true;
    if (end > MAX_FILE_SIZE) return false; /* EFBIG, maybe after some iovecs: said exclusive */
    if (!table_in_place(f, chunk_index(offset), chunk_index(end - 1))) return false;
    /* Without chunk 0 (first_cap 0, fsck checks it) there is none to replace. */
    return offset >= CHUNK_SIZE || f->first_cap == 0 || first_chunk_cap(f, end) == f->first_cap;
}

void file_write_prepared(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len,
                         uint64_t unzeroed_from) {
    if (!len) return; /* moves no size, even past the end */
    uint64_t end = offset + len;
    struct file_data *f = &file->file;
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = end - offset;
        hook_copy_in(core_addr(table_chunk(f, i) + within), guest_src, (uint32_t)n);
        guest_src += (uint32_t)n;
        offset += n;
    }
    if (end <= file->size) return;
    /* A plain store: a reader that sees it before the data reads zeros or old bytes of
       this file (above), and an atomic one would cost a fence per append. Past a chunk left
       unzeroed, a reader that sees the size must see the bytes: a release store, only in a
       write that placed such a chunk (64 KiB or more). */
    if (end > unzeroed_from) __atomic_store_n(&file->size, end, __ATOMIC_RELEASE);
    else file->size = end;
}

errno_t file_write_from_guest(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len) {
    if (!len) return E_SUCCESS;
    uint64_t end = offset + len; /* offset_range_valid: no wrap */
    if (end > MAX_FILE_SIZE) return E_FBIG;
    errno_t err = prepare_range(&file->file, offset, end, true, file->size);
    if (!err) file_write_prepared(file, offset, guest_src, len, NO_CHUNK_UNZEROED);
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
        uint8_t *chunk = table_chunk(f, i);
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
    errno_t err = prepare_range(f, offset, end, true, file->size);
    if (err) return err;
    while (offset < end) {
        /* The loop header is a stop point: a piece in, the chunks after it placed (whole
           ones unzeroed), the size not moved. */
        STOP_TEST(STOP_APPEND_COPYING, offset > file->size);
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint32_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = (uint32_t)(end - offset);
        mem_copy(table_chunk(f, i) + within, src, n);
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
        const uint8_t *chunk = table_chunk(f, i);
        uint32_t stored = chunk && within < chunk_cap(f, i) ? chunk_cap(f, i) - within : 0;
        if (stored > n) stored = n;
        if (stored) mem_copy(dst, chunk + within, stored);
        if (n > stored) mem_zero(dst + stored, n - stored);
        dst += n;
        offset += n;
    }
}

/* shared: as block_take's. */
static errno_t set_size(struct inode *file, uint64_t size, struct lock_holder *shared) {
    if (size > MAX_FILE_SIZE) return E_FBIG;
    struct file_data *f = &file->file;
    if (size <= file->size) {
        table_truncate(f, chunk_index(size + CHUNK_SIZE - 1), shared);
        uint32_t within = (uint32_t)(size & (CHUNK_SIZE - 1));
        uint8_t *last = within ? table_chunk(f, chunk_index(size)) : NULL;
        if (last && within < chunk_cap(f, chunk_index(size)))
            mem_zero(last + within, chunk_cap(f, chunk_index(size)) - within);
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
    /* Every chunk, or ENOSPC and none. Unzeroed: a fill stopped in a read leaves the file
       lazy, to be filled again (and cut to what was read) before anyone reads it. */
    errno_t err = prepare_range(f, 0, size, true, 0);
    if (err) return err;
    file->size = size;
    uint64_t offset = 0;
    while (offset < size) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = chunk_cap(f, i) - within;
        if (n > size - offset) n = size - offset;
        int32_t got = read(ctx, offset, core_addr(table_chunk(f, i) + within), (uint32_t)n);
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
    errno_t err = prepare_range(&file->file, file->size, end, false, 0);
    if (!err) file->size = end;
    return err;
}

errno_t file_allocate_shared(struct inode *file, uint64_t end, struct lock_holder *holder) {
    mem_lock_shared(holder);
    errno_t err = file_allocate(file, end);
    mem_unlock_shared(holder);
    return err;
}

void file_free(struct inode *file) { table_free(&file->file); }

/* An emptied slot0 holds nothing: a lazy file whose fetch failed is emptied (file_fill)
   and stays lazy. */
bool file_holds_memory(const struct inode *file) { return !table_small(&file->file) || file->file.slot0; }

/* Chunks past the end of the file hold nothing (they were freed on truncation), every far
   leaf and chunk is counted, chunk 0 and its capacity go together, and the bytes of the
   last chunk past the size are zero. The walk costs what the file holds (a top-array entry
   per 64 MiB, the slots of the leaves it has), even far out: fsck runs after every fuzzed
   call. */
uint32_t file_check(const struct inode *file) {
    const struct file_data *f = &file->file;
    uint32_t problems = (f->first_cap > CHUNK_SIZE) + (!table_chunk(f, 0) != !f->first_cap);
    problems += table_check(f, chunk_index(file->size + CHUNK_SIZE - 1));
    uint32_t within = (uint32_t)(file->size & (CHUNK_SIZE - 1));
    uint32_t last = chunk_index(file->size);
    const uint8_t *chunk = within ? table_chunk(f, last) : NULL;
    for (uint32_t b = within; chunk && b < chunk_cap(f, last); b++)
        if (chunk[b]) {
            problems++;
            break;
        }
    return problems;
}

/* Chunks that exist are data, everything else a hole; missing leaves are skipped whole.
   Lock held (either mode: under it a slot only goes from empty to a chunk). */
uint64_t file_seek_data(const struct inode *file, uint64_t offset, bool hole) {
    uint64_t size = file->size;
    if (offset >= size) return UINT64_MAX;
    const struct file_data *f = &file->file;
    uint32_t from = chunk_index(offset);
    uint32_t i = hole ? table_next_hole(f, from) : table_next_chunk(f, from);
    if (i == NO_CHUNK || i > chunk_index(size - 1)) return hole ? size : UINT64_MAX; /* the end is a hole */
    uint64_t start = (uint64_t)i << CHUNK_SHIFT;
    return start > offset ? start : offset;
}
