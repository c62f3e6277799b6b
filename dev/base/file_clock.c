#include "base/file_clock.h"

struct file_clock OWN_CACHE_LINES file_clock;

uint64_t *file_clock_word(void) { return &file_clock.ns; }
