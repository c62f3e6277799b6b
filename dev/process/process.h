/* A process: the per-program state of one core instance (fd table, args, env, stdio),
   kept in shared memory and found through this instance's own slot (platform.h). */
#ifndef PROCESS_PROCESS_H
#define PROCESS_PROCESS_H

#include "base/core.h"
#include "base/lock.h"
#include "base/host_abi.h" /* LIMIT_MAX_FDS_* */
#include "vfs/vfs.h"
#include "vfs/reclaim.h"

enum fd_kind {
    FD_NEVER_USED = 0, FD_CLOSED, FD_FILE, FD_DIR, FD_STDIN, FD_STDOUT, FD_STDERR,
    FD_PIPE_READ, FD_PIPE_WRITE,
};
enum { ACCESS_READ = 1, ACCESS_WRITE = 2 };

struct fd_entry {
    struct inode *node;
    uint64_t offset;
    uint64_t rights_base, rights_inheriting;
    char *preopen_name;    /* non-NULL for preopened directories */
    uint32_t preopen_len;
    uint16_t flags;        /* fdflags */
    uint8_t kind;
    uint8_t access;
};

/* The fd table is a directory of fixed blocks that never move and are freed only with
   the process: a struct fd_entry pointer stays valid however the table grows, so no
   caller can be left holding a pointer into freed memory (the rule this file enforces by
   construction; only the directory of blocks is reallocated, and nothing outside
   fdtable.c sees it). */
#define FD_BLOCK_SIZE 16u
struct fd_block {
    struct fd_entry entries[FD_BLOCK_SIZE];
};

struct out_buffer {
    uint8_t *data;
    uint32_t len;
};

struct process {
    struct fd_block **fd_blocks;
    uint32_t fd_block_count;
    uint32_t fd_slots;     /* entries in use or closed; beyond: never used */
    uint32_t max_fds;      /* EMFILE past it */
    uint8_t *args, *env;   /* NUL-terminated strings back to back */
    uint32_t args_size, argc, env_size, envc;
    struct out_buffer out[2];
    uint8_t *io_buf;       /* bounce buffer for stdin */
    uint64_t guest_bytes;  /* last known size of the program's memory */
    uint32_t stdio_mode;
    uintptr_t stack_base;
    uint32_t sleep_word;
    uint32_t id;           /* its number in the registry (process.c): a host names it by it */
    uint8_t tty_streams;   /* bit 0 stdin, 1 stdout, 2 stderr: the host's stream is a terminal */
    bool can_block;
    struct lock_holder holder; /* this process's side of the VFS lock */
    struct reclaim_list reclaim; /* what its shared-lock unlinks took out of the tree */
    /* The file a write of 64 KiB or more is filling, NULL otherwise: such a write places the
       chunks it covers whole past the size unzeroed and moves the size after their bytes
       (filedata.c), so a process stopped in between (a terminated Worker, a trap) leaves
       another file's old bytes there, which a later extension would show. Its reap or
       recover cuts the file back to its size (process_end_stopped_write). */
    struct inode *writing;
    /* The handle of the new file a host's wasi_wasm_fs_file_append is filling, 0 otherwise:
       an append places chunks as a large write does, so a stop in its copy leaves the same
       bytes past the size, which nothing frees while the handle lives (another process may
       hold the number: the handle ends with the process that made it, not with the one
       appending) and a commit then shows. The reap or recover cuts that file back too.
       A handle, not the inode: between the release of the stopped process's lock and the
       cut's own hold, another thread with the number may drop it (freeing the file), and
       a dropped handle names nothing. Set only while the process holds the lock. */
    uint32_t appending;
    struct process *next;
    struct process *reap_next; /* the chain of processes a reap claimed and will free */
};

#define STACK_SIZE (64u * 1024u)
#define OUT_BUFFER_SIZE 8192u
#define IO_BUFFER_SIZE 8192u

/* Inline: every syscall asks. */
static inline struct process *current_process(void) {
    return (struct process *)platform_instance_process();
}

/* The VFS lock, taken in this process's name: exclusive to change anything, shared to
   read the tree and file data only. */
/* Exclusive also frees what shared-lock writers unlinked (no reader is left to see it). */
static inline void process_lock(struct process *p) {
    vfs_lock(&p->holder, p->can_block);
    reclaim_now();
}
static inline void process_lock_shared(struct process *p) { vfs_lock_shared(&p->holder); }
static inline void process_unlock_shared(struct process *p) { vfs_unlock_shared(&p->holder); }

struct process *process_list(void);
/* A new process with stdio on fds 0-2 and a stack of STACK_SIZE, or NULL (*err set).
   Exclusive lock held (it registers the process's lock holder). */
struct process *process_create(bool can_block, errno_t *err); /* ENOMEM, or EAGAIN: too many */
/* The process numbered id, or NULL (also once a reaper claimed it). Takes no lock: a host
   uses it for a process whose thread is gone and may hold the lock (wasi_wasm_reap). */
struct process *process_by_id(uint32_t id);
/* Claims the next process of thread group group from registry slot *cursor on, skipping
   skip (the caller's), as process_claim does one: NULL when none is left. Takes no lock
   (a reaper's: a process of the group may hold it). */
struct process *process_claim_in_group(uint32_t group, const struct process *skip, uint32_t *cursor);
/* The thread group of the process numbered id, from its registry slot (no process read):
   false if there is no such process. Takes no lock. */
bool process_group_of(uint32_t id, uint32_t *group);
/* Joins p to group (vfs_join_group) and records it in p's slot. Lock held exclusive. */
void process_join_group(struct process *p, uint32_t group);
/* Whether a process (claimed by its reaper or not) has the number id. Lock held. */
bool process_numbered(uint32_t id);
/* Claims the process numbered id for whoever ends it (its reaper, or its own detach):
   true for exactly one caller however many try at once, and process_by_id finds it no
   more. Only the claimer may then touch it (release its locks, free it). */
bool process_claim(uint32_t id);
/* Lock held, and the caller's claim on p (or p never numbered); frees the stack too,
   releases what the handles it made still hold (base/handles.h: its scratch buffers, new
   files and pipe holds), and gives the number's slot back. */
void process_free(struct process *p);
/* Lock held exclusive, for a process stopped anywhere (its reap or recover): if it was
   in the middle of a large write or a host's append, frees the chunks past that file's
   size and zeroes the rest of its last chunk, as fsck expects. */
void process_end_stopped_write(struct process *p);
/* Replaces the process's args or env blob (NUL-terminated strings back to back). */
errno_t process_set_strings(struct process *p, bool env, const uint8_t *blob, uint32_t len);

#endif
