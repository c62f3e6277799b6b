/* Tests stop a call inside one window, as a terminated Worker can (at any function entry
   or loop header) or a hook that raises: a core built with -DSTOP_WINDOW=n traps where
   window n's condition holds (tests/test_stopped_calls.py), and the test then reaps or
   recovers the process and looks at what the stop left. Each trap sits where the real core
   has a stop point (a call), so it stops no earlier or later than a terminate() can. The
   real core has no such stop: the macro is nothing. */
#ifndef BASE_STOP_TEST_H
#define BASE_STOP_TEST_H

#define STOP_CLOSE_FREED 1   /* fd_release: the last close of an unlinked file freed it */
#define STOP_CHUNK_FREED 2   /* a truncation under the lock shared gave back a chunk (1..) */
#define STOP_CHUNK0_FREED 3  /* ... gave back chunk 0 */
#define STOP_TOP_FREED 4     /* ... gave back the top array it shrank */
#define STOP_RECLAIM_GROWN 5 /* reclaim_reserve gave back the list's array it outgrew */
#define STOP_CLOSE_SHARED 6  /* fd_release_shared dropped the count (no stop point there yet) */
#define STOP_NAME_PUBLISHED 7 /* a shared create's name is in (no stop point there yet) */
#define STOP_DIR_UNPUBLISHED 8 /* a shared rmdir took the name out (no stop point there yet) */
#define STOP_OPEN_NAMED 9    /* an exclusive open's fd names its node (no stop point there yet) */
#define STOP_RENUMBER_MOVED 10 /* fd_renumber took the old number's entry (no stop point there yet) */
#define STOP_APPEND_COPYING 11 /* a host's file_append copied a piece, another to come */
#define STOP_RESHAPE_COPYING 12 /* a same-size reshape copied half its slots (a loop header) */
#define STOP_RESHAPE_INDEXING 13 /* a reshape put half its names in the new index (a loop header) */
#define STOP_RESHAPE_FREED 14 /* a grown directory's old slot array went back (at a mem_free) */
#define STOP_RENUMBERING 15  /* the first renumbering near DIR_SEQ_LIMIT did half its slots (a loop header) */

#ifdef STOP_WINDOW
#define STOP_TEST(window, cond) \
    do { \
        if (STOP_WINDOW == (window) && (cond)) __builtin_trap(); \
    } while (0)
#else
#define STOP_TEST(window, cond) ((void)0)
#endif

#endif
