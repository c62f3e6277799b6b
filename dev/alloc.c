/* Size classes carved from 64 KiB slabs for small blocks; runs of whole pages, kept in an
   address-ordered free list and coalesced on free, for large ones. Memory grows with
   memory.grow and is never returned, but everything freed is reused. */
#include "alloc.h"

extern unsigned char __heap_base;

static const uint32_t class_sizes[] = {
    16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,
    3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768,
};
#define CLASS_COUNT (sizeof class_sizes / sizeof class_sizes[0])
#define LARGEST_CLASS 32768u

struct free_block { struct free_block *next; };
struct free_run { uint32_t pages; struct free_run *next; };

static struct {
    struct free_block *classes[CLASS_COUNT];
    /* The newest slab of each class is handed out front to back: a block is touched only
       when it is first allocated, so a fresh memory does not fault in whole slabs. */
    uint8_t *carve[CLASS_COUNT], *carve_end[CLASS_COUNT];
    struct free_run *runs;        /* address order */
    uint32_t heap_top;            /* first never-used byte */
    uint64_t used;
    uint64_t limit;
} heap;

static uint32_t core_addr_of(const void *p) { return (uint32_t)(uintptr_t)p; }

static int class_of(uint32_t size) {
    for (uint32_t i = 0; i < CLASS_COUNT; i++)
        if (size <= class_sizes[i]) return (int)i;
    return -1;
}

uint32_t mem_block_size(uint32_t size) {
    int c = class_of(size ? size : 1);
    return c >= 0 ? class_sizes[c] : align_up(size, PAGE_SIZE);
}

static bool within_limit(uint32_t bytes) {
    return heap.limit == 0 || heap.used + bytes <= heap.limit;
}

static void *grow_heap(uint32_t pages) {
    if (heap.heap_top == 0) heap.heap_top = align_up((uint32_t)(uintptr_t)&__heap_base, PAGE_SIZE);
    uint64_t end = (uint64_t)heap.heap_top + (uint64_t)pages * PAGE_SIZE;
    uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * PAGE_SIZE;
    if (end > have) {
        /* Grow by at least 1/16 of the memory (and 1 MiB): memory.grow is a system call for
           the host, and a file written in small pieces would otherwise grow it per chunk. */
        uint64_t missing = (end - have + PAGE_SIZE - 1) / PAGE_SIZE;
        uint64_t slack = have / PAGE_SIZE / 16 > 16 ? have / PAGE_SIZE / 16 : 16;
        if (missing >= slack || __builtin_wasm_memory_grow(0, (size_t)slack) == (size_t)-1)
            if (__builtin_wasm_memory_grow(0, (size_t)missing) == (size_t)-1) return NULL;
    }
    void *p = (void *)(uintptr_t)heap.heap_top;
    heap.heap_top = (uint32_t)end;  /* wraps to 0 only at exactly 4 GiB: nothing can follow */
    return p;
}

static void *take_pages(uint32_t pages) {
    struct free_run **link = &heap.runs;
    for (struct free_run *run = heap.runs; run; link = &run->next, run = run->next) {
        if (run->pages < pages) continue;
        if (run->pages == pages) {
            *link = run->next;
            return run;
        }
        struct free_run *rest = (struct free_run *)((uint8_t *)run + (size_t)pages * PAGE_SIZE);
        rest->pages = run->pages - pages;
        rest->next = run->next;
        *link = rest;
        return run;
    }
    return grow_heap(pages);
}

static void give_pages(void *p, uint32_t pages) {
    struct free_run *run = p;
    run->pages = pages;
    struct free_run *prev = NULL, *next = heap.runs;
    while (next && next < run) { prev = next; next = next->next; }
    run->next = next;
    if (prev) prev->next = run; else heap.runs = run;
    if (next && (uint8_t *)run + (size_t)run->pages * PAGE_SIZE == (uint8_t *)next) {
        run->pages += next->pages;
        run->next = next->next;
    }
    if (prev && (uint8_t *)prev + (size_t)prev->pages * PAGE_SIZE == (uint8_t *)run) {
        prev->pages += run->pages;
        prev->next = run->next;
    }
}

static void *carve_block(int c) {
    uint32_t size = class_sizes[c];
    if (!heap.carve[c] || heap.carve_end[c] - heap.carve[c] < (ptrdiff_t)size) {
        uint8_t *slab = take_pages(1);
        if (!slab) return NULL;
        heap.carve[c] = slab;
        heap.carve_end[c] = slab + PAGE_SIZE / size * size;
    }
    void *p = heap.carve[c];
    heap.carve[c] += size;
    return p;
}

void *mem_alloc(uint32_t size) {
    uint32_t real = mem_block_size(size);
    if (size > 0xFFFF0000u || !within_limit(real)) return NULL;
    void *p;
    int c = class_of(real);
    if (c >= 0) {
        p = heap.classes[c];
        if (p) heap.classes[c] = heap.classes[c]->next;
        else if (!(p = carve_block(c))) return NULL;
    } else {
        p = take_pages(real / PAGE_SIZE);
        if (!p) return NULL;
    }
    heap.used += real;
    return p;
}

void *mem_alloc_zeroed(uint32_t size) {
    void *p = mem_alloc(size);
    if (p) mem_zero(p, size);
    return p;
}

void mem_free(void *p, uint32_t size) {
    if (!p) return;
    uint32_t real = mem_block_size(size);
    heap.used -= real;
    int c = class_of(real);
    if (c >= 0) {
        struct free_block *b = p;
        b->next = heap.classes[c];
        heap.classes[c] = b;
    } else {
        give_pages(p, real / PAGE_SIZE);
    }
}

void *mem_realloc(void *p, uint32_t old_size, uint32_t new_size) {
    if (p && mem_block_size(old_size) == mem_block_size(new_size)) return p;
    void *q = mem_alloc(new_size);
    if (!q) return NULL;
    if (p) {
        mem_copy(q, p, old_size < new_size ? old_size : new_size);
        mem_free(p, old_size);
    }
    return q;
}

uint64_t mem_used_bytes(void) { return heap.used; }
void mem_set_limit(uint64_t bytes) { heap.limit = bytes; }

static bool in_heap(const void *p) {
    uint32_t a = core_addr_of(p);
    return a >= align_up((uint32_t)(uintptr_t)&__heap_base, PAGE_SIZE) && (heap.heap_top == 0 || a < heap.heap_top);
}

uint32_t mem_check(void) {
    uint32_t problems = 0;
    for (uint32_t c = 0; c < CLASS_COUNT; c++) {
        for (struct free_block *b = heap.classes[c]; b; b = b->next)
            if (!in_heap(b)) { problems++; break; }
        if (heap.carve[c] && (heap.carve[c] > heap.carve_end[c] || !in_heap(heap.carve_end[c] - 1)))
            problems++;
    }
    uint64_t free_pages = 0;
    for (struct free_run *r = heap.runs; r; r = r->next) {
        if (!in_heap(r) || (core_addr_of(r) & (PAGE_SIZE - 1)) || (r->next && r->next <= r)) { problems++; break; }
        free_pages += r->pages;
    }
    uint64_t heap_bytes = heap.heap_top ? heap.heap_top - align_up((uint32_t)(uintptr_t)&__heap_base, PAGE_SIZE) : 0;
    if (heap.used + free_pages * PAGE_SIZE > heap_bytes) problems++;
    return problems;
}
