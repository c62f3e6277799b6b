/* A holder's own cache of small free blocks (alloc.c's mem_alloc_shared): its creates,
   unlinks and first writes under the lock shared take the allocator's mutex once per
   CACHE_BATCH blocks of a size, not once per block, so threads that create files at once do
   not queue on one mutex. In lock_holder (lock.h), as the rest of what a holder owns. */
#ifndef BASE_ALLOC_CACHE_H
#define BASE_ALLOC_CACHE_H

#include "base/core.h"

#define CACHED_CLASSES 10u /* alloc.c's classes up to 512 bytes: inodes, dentries, small chunk 0s */
#define CACHE_DEPTH 16u
#define CACHE_BATCH 8u     /* blocks a refill takes or a full cache gives back at once */

/* Written only by its holder while it holds the lock shared, and by whoever holds the lock
   exclusive (mem_drain_caches). Its blocks are free (poisoned) but counted as used, so the
   budget never lends them twice; they go back when an exclusive allocation or write runs
   short, and before fsck and the used bytes are read. */
struct alloc_cache {
    void *blocks[CACHED_CLASSES][CACHE_DEPTH];
    uint8_t count[CACHED_CLASSES];
    /* Bit c set once class c got a block since the last drain: a drain visits only
       those, where a loop over every class of every holder cost ~320 wasm operations. */
    uint16_t filled;
};

#endif
