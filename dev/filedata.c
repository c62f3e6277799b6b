/* File contents in 64 KiB chunks, so a large file never needs one huge contiguous copy.
   Invariant: every byte of an allocated chunk at or past the file size is zero, so
   extending a file (sparsely or not) reads back zeros without extra work. */
#include "vfs.h"
#include "alloc.h"
#include "hooks.h"
#include "guest.h"

#define MAX_FILE_SIZE ((uint64_t)1 << 40)
#define FIRST_CHUNK_MIN 64u

static uint8_t zeros[4096];

static uint32_t chunk_cap(const struct file_data *f, uint32_t i) {
    return i == 0 ? f->first_cap : CHUNK_SIZE;
}

static errno_t ensure_slots(struct file_data *f, uint32_t count) {
    if (count <= f->chunk_slots) return E_SUCCESS;
    uint32_t slots = f->chunk_slots ? f->chunk_slots : 1;
    while (slots < count) slots *= 2;
    uint8_t **chunks = mem_realloc(f->chunks, f->chunk_slots * 4, slots * 4);
    if (!chunks) return E_NOSPC;
    mem_zero(chunks + f->chunk_slots, (slots - f->chunk_slots) * 4);
    f->chunks = chunks;
    f->chunk_slots = slots;
    return E_SUCCESS;
}

/* Make chunk i hold at least `need` bytes; a chunk about to be overwritten whole needs no
   zeroing first. */
static errno_t ensure_chunk(struct file_data *f, uint32_t i, uint32_t need, bool whole) {
    if (i > 0) {
        if (f->chunks[i]) return E_SUCCESS;
        f->chunks[i] = whole ? mem_alloc(CHUNK_SIZE) : mem_alloc_zeroed(CHUNK_SIZE);
        return f->chunks[i] ? E_SUCCESS : E_NOSPC;
    }
    if (need <= f->first_cap) return E_SUCCESS;
    uint32_t cap = f->first_cap ? f->first_cap * 2 : FIRST_CHUNK_MIN;
    while (cap < need) cap *= 2;
    if (cap > CHUNK_SIZE) cap = CHUNK_SIZE;
    uint8_t *chunk = mem_realloc(f->chunks[0], f->first_cap, cap);
    if (!chunk) return E_NOSPC;
    mem_zero(chunk + f->first_cap, cap - f->first_cap);
    f->chunks[0] = chunk;
    f->first_cap = cap;
    return E_SUCCESS;
}

/* overwrite: the caller writes every byte of [offset, end) right after. */
static errno_t prepare_range(struct file_data *f, uint64_t offset, uint64_t end, bool overwrite) {
    uint32_t last = (uint32_t)((end - 1) >> CHUNK_SHIFT);
    errno_t err = ensure_slots(f, last + 1);
    for (uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT); !err && i <= last; i++) {
        uint64_t chunk_start = (uint64_t)i << CHUNK_SHIFT, chunk_end = chunk_start + CHUNK_SIZE;
        uint32_t need = (uint32_t)((end < chunk_end ? end : chunk_end) - chunk_start);
        err = ensure_chunk(f, i, need, overwrite && offset <= chunk_start && end >= chunk_end);
    }
    return err;
}

static void free_chunks_from(struct file_data *f, uint32_t first) {
    for (uint32_t i = first; i < f->chunk_slots; i++) {
        if (!f->chunks[i]) continue;
        mem_free(f->chunks[i], chunk_cap(f, i));
        f->chunks[i] = NULL;
        if (i == 0) f->first_cap = 0;
    }
}

/* Writes all or nothing: the space is reserved before any byte is copied. */
errno_t file_write_from_guest(struct inode *file, uint64_t offset, uint32_t guest_src, uint32_t len) {
    if (!len) return E_SUCCESS;
    uint64_t end = offset + len;
    if (end > MAX_FILE_SIZE) return E_FBIG;
    struct file_data *f = &file->file;
    errno_t err = prepare_range(f, offset, end, true);
    if (err) {
        /* Give back what the failed reservation took: ENOSPC must not pin memory. */
        free_chunks_from(f, (uint32_t)((file->size + CHUNK_SIZE - 1) >> CHUNK_SHIFT));
        return err;
    }
    while (offset < end) {
        uint32_t i = (uint32_t)(offset >> CHUNK_SHIFT);
        uint32_t within = (uint32_t)(offset & (CHUNK_SIZE - 1));
        uint64_t n = CHUNK_SIZE - within;
        if (n > end - offset) n = end - offset;
        hook_copy_in(core_addr(f->chunks[i] + within), guest_src, (uint32_t)n);
        guest_src += (uint32_t)n;
        offset += n;
    }
    if (end > file->size) file->size = end;
    return E_SUCCESS;
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
        uint8_t *chunk = i < f->chunk_slots ? f->chunks[i] : NULL;
        uint32_t stored = chunk && within < chunk_cap(f, i) ? chunk_cap(f, i) - within : 0;
        if (stored > n) stored = (uint32_t)n;
        if (stored) hook_copy_out(guest_dst, core_addr(chunk + within), stored);
        if (n > stored) zeros_to_guest(guest_dst + stored, (uint32_t)n - stored);
        guest_dst += (uint32_t)n;
        offset += n;
    }
}

errno_t file_set_size(struct inode *file, uint64_t size) {
    if (size > MAX_FILE_SIZE) return E_FBIG;
    struct file_data *f = &file->file;
    if (size <= file->size) {
        uint32_t keep = (uint32_t)((size + CHUNK_SIZE - 1) >> CHUNK_SHIFT);
        free_chunks_from(f, keep);
        uint32_t within = (uint32_t)(size & (CHUNK_SIZE - 1));
        uint32_t last = (uint32_t)(size >> CHUNK_SHIFT);
        if (within && last < f->chunk_slots && f->chunks[last] && within < chunk_cap(f, last))
            mem_zero(f->chunks[last] + within, chunk_cap(f, last) - within);
    }
    file->size = size;
    return E_SUCCESS;
}

errno_t file_allocate(struct inode *file, uint64_t end) {
    if (end > MAX_FILE_SIZE) return E_FBIG;
    if (end <= file->size) return E_SUCCESS;
    errno_t err = prepare_range(&file->file, file->size, end, false);
    if (!err) file->size = end;
    return err;
}

void file_free(struct inode *file) {
    struct file_data *f = &file->file;
    free_chunks_from(f, 0);
    mem_free(f->chunks, f->chunk_slots * 4);
}
