/* Size classes carved from 64 KiB slabs for small blocks; runs of whole pages, kept in an
   address-ordered free list and coalesced on free, for large ones. Memory grows with the
   platform's memory.grow and is never returned, but everything freed is reused.
   Free memory stays poisoned: the allocator unpoisons a free-list link only for the
   moment it reads or writes it. */
#include "base/alloc.h"

static const uint32_t class_sizes[] = {
    16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,
    3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768,
};
#define CLASS_COUNT (sizeof class_sizes / sizeof class_sizes[0])
#define MEMORY_BYTES ((uint64_t)1 << 32)
#define MAX_REQUEST 0xFFFF0000u

struct free_block { struct free_block *next; };
struct free_run { uint32_t pages; struct free_run *next; };

static struct {
    struct free_block *classes[CLASS_COUNT];
    /* The newest slab of each class is handed out front to back: a block is touched only
       when it is first allocated, so a fresh memory does not fault in whole slabs. */
    uint8_t *carve[CLASS_COUNT], *carve_end[CLASS_COUNT];
    struct free_run *runs;        /* address order */
    uintptr_t start;              /* the heap's first page */
    uint64_t top;                 /* bytes of it ever handed out: start + top is never used */
    bool ready;
    uint64_t used;                /* the filesystem budget's blocks */
    uint64_t reserve_used;        /* the reserve's blocks */
    uint64_t limit;
} OWN_CACHE_LINES heap;

/* The smallest class that holds size (1..), or -1: computed, not searched, since every
   allocation and free asks. Past 32 the classes go 1.5 x 2^k, 2^(k+1) for each k, so
   class_sizes[2k - 8] = 3 << (k - 1) and class_sizes[2k - 7] = 2 << k. */
static int class_of(uint32_t size) {
    if (size <= 32) return size > 16;
    if (size > class_sizes[CLASS_COUNT - 1]) return -1;
    uint32_t k = 31u - (uint32_t)__builtin_clz(size - 1); /* 2^k < size <= 2^(k+1) */
    return (int)(2 * k - 8 + (size > 3u << (k - 1)));
}

/* The class of a request of size bytes (-1: whole pages), and the bytes it really takes. */
static int class_for(uint32_t size, uint32_t *real) {
    int c = class_of(size ? size : 1);
    *real = c >= 0 ? class_sizes[c] : align_up(size, PAGE_SIZE);
    return c;
}

uint32_t mem_block_size(uint32_t size) {
    uint32_t real;
    class_for(size, &real);
    return real;
}

static bool within_limit(uint32_t bytes) {
    return heap.limit == 0 || heap.used + bytes <= heap.limit;
}

static uintptr_t align_page(uintptr_t v) {
    return (v + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
}

static void heap_init(void) {
    if (heap.ready) return;
    heap.start = align_page(platform_heap_base());
    heap.ready = true;
}

/* Carves fresh pages off the top of the heap, growing the memory when it must. */
static void *grow_heap(uint32_t pages) {
    heap_init();
    uint64_t end = (uint64_t)(heap.start - platform_memory_base()) + heap.top + (uint64_t)pages * PAGE_SIZE;
    uint64_t have = (uint64_t)platform_memory_pages() * PAGE_SIZE;
    if (end > MEMORY_BYTES) return NULL;
    if (end > have) {
        /* Grow by at least 1/16 of the memory (and 1 MiB): memory.grow is a system call for
           the host, and a file written in small pieces would otherwise grow it per chunk. */
        uint64_t missing = (end - have + PAGE_SIZE - 1) / PAGE_SIZE;
        uint64_t slack = platform_memory_pages() / 16 > 16 ? platform_memory_pages() / 16 : 16;
        if (missing >= slack || !platform_memory_grow((uint32_t)slack))
            if (!platform_memory_grow((uint32_t)missing)) return NULL;
    }
    void *p = (void *)(heap.start + (uintptr_t)heap.top);
    heap.top += (uint64_t)pages * PAGE_SIZE;
    platform_poison(p, (size_t)pages * PAGE_SIZE);
    return p;
}

/* Free-list links live in poisoned memory: these open them for one access. */
static struct free_run *run_open(struct free_run *run) {
    if (run) platform_unpoison(run, sizeof *run);
    return run;
}
static void run_close(struct free_run *run) {
    if (run) platform_poison(run, sizeof *run);
}

static void *take_pages(uint32_t pages) {
    struct free_run **link = &heap.runs;
    struct free_run *prev = NULL;
    for (struct free_run *run = run_open(heap.runs); run; ) {
        struct free_run *next = run->next;
        if (run->pages >= pages) {
            if (run->pages == pages) {
                *link = next;
            } else {
                struct free_run *rest = (struct free_run *)((uint8_t *)run + (size_t)pages * PAGE_SIZE);
                run_open(rest);
                rest->pages = run->pages - pages;
                rest->next = next;
                *link = rest;
                run_close(rest);
            }
            run_close(run);
            run_close(prev);
            return run;
        }
        run_close(prev);
        prev = run;
        link = &run->next;
        run = run_open(next);
    }
    run_close(prev);
    return grow_heap(pages);
}

static void give_pages(void *p, uint32_t pages) {
    struct free_run *run = run_open(p);
    run->pages = pages;
    struct free_run *prev = NULL, *next = run_open(heap.runs);
    while (next && next < run) {
        run_close(prev);
        prev = next;
        next = run_open(next->next);
    }
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
    run_close(next);
    run_close(run);
    run_close(prev);
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

/* A block of class c, or of real bytes (whole pages) for c -1. */
static void *take_block(int c, uint32_t real) {
    if (c < 0) return take_pages(real / PAGE_SIZE);
    struct free_block *b = heap.classes[c];
    if (!b) return carve_block(c);
    platform_unpoison(b, sizeof *b);
    heap.classes[c] = b->next;
    platform_poison(b, sizeof *b);
    return b;
}

/* limited: within the budget (heap.used's blocks). */
static void *hand_out(uint32_t size, uint64_t *counter, bool limited) {
    if (size > MAX_REQUEST) return NULL;
    uint32_t real;
    int c = class_for(size, &real);
    void *p = limited && !within_limit(real) ? NULL : take_block(c, real);
    if (!p) return NULL;
    *counter += real;
    platform_unpoison(p, size);
    return p;
}

/* Short of budget or memory under the lock exclusive, it takes back what the holders'
   caches keep (counted as used) and tries again: exclusive holds do not drain them, or a
   process alone, whose creates fill its cache under the lock shared and whose removals run
   exclusive, would give its cache back and refill it at every call. */
void *mem_alloc(uint32_t size) {
    void *p = hand_out(size, &heap.used, true);
    if (!p && vfs_held_exclusive() && mem_drain_caches()) p = hand_out(size, &heap.used, true);
    return p;
}

void *mem_alloc_reserve(uint32_t size) { return hand_out(size, &heap.reserve_used, false); }

void *mem_alloc_zeroed(uint32_t size) {
    void *p = mem_alloc(size);
    if (p) mem_zero(p, size);
    return p;
}

static void give_back(void *p, uint32_t size, uint64_t *counter) {
    if (!p) return;
    uint32_t real;
    int c = class_for(size, &real);
    *counter -= real;
    if (c < 0) {
        platform_poison(p, real);
        give_pages(p, real / PAGE_SIZE);
        return;
    }
    struct free_block *b = p;
    platform_unpoison(b, sizeof *b);
    b->next = heap.classes[c];
    heap.classes[c] = b;
    platform_poison(p, real);
}

void mem_free(void *p, uint32_t size) { give_back(p, size, &heap.used); }
void mem_free_reserve(void *p, uint32_t size) { give_back(p, size, &heap.reserve_used); }

void *mem_realloc(void *p, uint32_t old_size, uint32_t new_size) {
    if (p && mem_block_size(old_size) == mem_block_size(new_size)) {
        /* Same block: only the bytes now asked for are open. */
        if (new_size > old_size) platform_unpoison((uint8_t *)p + old_size, new_size - old_size);
        else platform_poison((uint8_t *)p + new_size, old_size - new_size);
        return p;
    }
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

uint64_t mem_available_bytes(void) {
    uint64_t memory_left = MEMORY_BYTES - heap.used - heap.reserve_used;
    if (heap.limit == 0) return memory_left;
    uint64_t budget_left = heap.limit > heap.used ? heap.limit - heap.used : 0;
    return budget_left < memory_left ? budget_left : memory_left;
}

static uint32_t cached_blocks(void);

static bool in_heap(const void *p) {
    uintptr_t a = (uintptr_t)p;
    return a >= heap.start && (uint64_t)(a - heap.start) < heap.top;
}

/* A list longer than the heap can hold blocks of the class is a cycle: a block freed twice
   (an operation a terminated Worker left half done, wasi_wasm_reap) must be reported, not
   walked forever. */
static uint32_t check_class(uint32_t c) {
    uint32_t problems = 0;
    uint64_t most = heap.top / class_sizes[c] + 1;
    for (struct free_block *b = heap.classes[c]; b; most--) {
        if (!most || !in_heap(b) || ((uintptr_t)b - heap.start) % 16) return problems + 1;
        platform_unpoison(b, sizeof *b);
        struct free_block *next = b->next;
        platform_poison(b, sizeof *b);
        b = next;
    }
    if (heap.carve[c] && (heap.carve[c] > heap.carve_end[c] || !in_heap(heap.carve_end[c] - 1)))
        problems++;
    return problems;
}

uint32_t mem_check(void) {
    heap_init();
    uint32_t problems = 0;
    for (uint32_t c = 0; c < CLASS_COUNT; c++) problems += check_class(c);
    uint64_t free_pages = 0;
    for (struct free_run *r = heap.runs; r;) {
        if (!in_heap(r) || ((uintptr_t)r - heap.start) % PAGE_SIZE) { problems++; break; }
        run_open(r);
        struct free_run *next = r->next;
        free_pages += r->pages;
        bool bad = (next && next <= r) || r->pages == 0 ||
                   (uint64_t)((uintptr_t)r - heap.start) + (uint64_t)r->pages * PAGE_SIZE > heap.top;
        run_close(r);
        if (bad) { problems++; break; }
        r = next;
    }
    if (heap.used + heap.reserve_used + free_pages * PAGE_SIZE > heap.top) problems++;
    return problems + cached_blocks();
}

/* Taken only by holders of the shared lock: an exclusive holder excludes them all. Its own
   line: its waiters spin on it while the holder writes the heap. */
static struct {
    int word;
} OWN_CACHE_LINES shared_users_mutex;

void mem_lock_shared(struct lock_holder *holder) { holder_lock_mutex(holder, MUTEX_ALLOCATOR, &shared_users_mutex.word); }

void mem_unlock_shared(struct lock_holder *holder) { holder_unlock_mutex(holder, MUTEX_ALLOCATOR); }

/* ---- holders' caches of small blocks (alloc_cache.h) ---- */

static int cached_class(uint32_t size) {
    int c = class_of(size ? size : 1);
    return c >= 0 && (uint32_t)c < CACHED_CLASSES ? c : -1;
}

/* The allocator's mutex held: up to CACHE_BATCH more blocks of class c, within the budget.
   They go on the cache's stack in reverse, so that it hands them out in the order they were
   taken (ascending addresses from fresh memory): the entries a directory gets one after
   another then lie in order, and reading them streams. Handed out backwards, a 10,000-entry
   readdir took 1.5x as long (bench.c readdir_10k). */
static void refill(struct alloc_cache *cache, int c) {
    uint32_t real = class_sizes[c], first = cache->count[c];
    while (cache->count[c] < CACHE_BATCH && within_limit(real)) {
        void *b = take_block(c, real);
        if (!b) break;
        heap.used += real;
        cache->blocks[c][cache->count[c]++] = b;
    }
    if (cache->count[c]) cache->filled |= (uint16_t)(1u << c);
    void **stack = cache->blocks[c];
    for (uint32_t low = first, high = cache->count[c]; low + 1 < high; low++, high--) {
        void *swap = stack[low];
        stack[low] = stack[high - 1];
        stack[high - 1] = swap;
    }
}

/* The allocator's mutex held, or the lock exclusive: the last n blocks of class c back. */
static void give_back_cached(struct alloc_cache *cache, int c, uint32_t n) {
    for (; n && cache->count[c]; n--) give_back(cache->blocks[c][--cache->count[c]], class_sizes[c], &heap.used);
}

void *mem_alloc_shared(struct lock_holder *holder, uint32_t size) {
    int c = cached_class(size);
    if (c < 0 || size > MAX_REQUEST) {
        mem_lock_shared(holder);
        void *p = mem_alloc(size);
        mem_unlock_shared(holder);
        return p;
    }
    struct alloc_cache *cache = &holder->cache;
    if (!cache->count[c]) {
        mem_lock_shared(holder);
        refill(cache, c);
        mem_unlock_shared(holder);
        if (!cache->count[c]) return NULL;
    }
    void *p = cache->blocks[c][--cache->count[c]];
    platform_unpoison(p, size);
    return p;
}

void mem_free_shared(struct lock_holder *holder, void *p, uint32_t size) {
    if (!p) return;
    int c = cached_class(size);
    if (c < 0) {
        mem_lock_shared(holder);
        mem_free(p, size);
        mem_unlock_shared(holder);
        return;
    }
    struct alloc_cache *cache = &holder->cache;
    platform_poison(p, class_sizes[c]);
    if (cache->count[c] == CACHE_DEPTH) {
        mem_lock_shared(holder);
        give_back_cached(cache, c, CACHE_BATCH);
        mem_unlock_shared(holder);
    }
    cache->blocks[c][cache->count[c]++] = p;
    cache->filled |= (uint16_t)(1u << c);
}

bool mem_drain_caches(void) {
    bool drained = false;
    for (struct lock_holder *h = vfs_holders(); h; h = h->next) {
        drained |= h->cache.filled != 0;
        for (uint32_t classes = h->cache.filled; classes; classes &= classes - 1)
            give_back_cached(&h->cache, __builtin_ctz(classes), CACHE_DEPTH);
        h->cache.filled = 0;
    }
    return drained;
}

/* For mem_check, under the lock exclusive, after a drain (wasi_wasm_fsck): any block still
   cached is one the budget counts twice. */
static uint32_t cached_blocks(void) {
    uint32_t blocks = 0;
    for (struct lock_holder *h = vfs_holders(); h; h = h->next)
        for (uint32_t c = 0; c < CACHED_CLASSES; c++) blocks += h->cache.count[c];
    return blocks;
}
