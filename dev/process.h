/* A process: the per-program state of one core instance (fd table, args, env, stdio),
   kept in shared memory and found through this instance's own wasm global. */
#ifndef PROCESS_H
#define PROCESS_H

#include "core.h"

struct inode;

enum fd_kind {
    FD_NEVER_USED = 0, FD_CLOSED, FD_FILE, FD_DIR, FD_STDIN, FD_STDOUT, FD_STDERR,
    FD_PIPE_READ, FD_PIPE_WRITE,
};
enum { ACCESS_READ = 1, ACCESS_WRITE = 2 };

struct fd_entry {
    struct inode *node;
    uint64_t offset;
    uint64_t rights_base, rights_inheriting;  /* as fd_fdstat_get reports them (wasmtime's sets) */
    uint64_t inheritable;  /* what a directory lets what it opens have: only set_rights lowers it */
    char *preopen_name;    /* non-NULL for preopened directories */
    uint32_t preopen_len;
    uint16_t flags;        /* fdflags */
    uint8_t kind;
    uint8_t access;
};

struct out_buffer {
    uint8_t *data;
    uint32_t len;
};

struct process {
    struct fd_entry *fds;
    uint32_t fd_slots;     /* entries in use or closed; beyond: never used */
    uint32_t fd_cap;
    uint32_t max_fds;      /* EMFILE past it */
    uint8_t *args, *env;   /* NUL-terminated strings back to back */
    uint32_t args_size, argc, env_size, envc;
    struct out_buffer out[2];
    uint8_t *io_buf;       /* bounce buffer for stdin */
    uint64_t guest_bytes;  /* last known size of the program's memory */
    uint32_t stdio_mode;
    uint32_t stack_base;
    uint32_t sleep_word;
    bool can_block;
    struct process *next;
};

#define STACK_SIZE (64u * 1024u)
#define OUT_BUFFER_SIZE 8192u
#define IO_BUFFER_SIZE 8192u
#define DEFAULT_MAX_FDS 1024u

/* This instance's process lives in a wasm global of the instance (defined in process.c):
   one per instance, where everything in memory is shared. Inline: every syscall asks. */
__asm__(".globaltype wasi_wasm_process, i32\n");
static inline struct process *current_process(void) {
    struct process *p;
    __asm__ volatile("global.get wasi_wasm_process\nlocal.set %0" : "=r"(p));
    return p;
}
struct process *process_list(void);

#endif
