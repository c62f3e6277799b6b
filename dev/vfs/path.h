/* Path resolution relative to a directory, confined to it as cap-std (and so wasmtime)
   confines it: absolute paths, absolute symlink targets and `..` above the starting
   directory give EPERM. */
#ifndef VFS_PATH_H
#define VFS_PATH_H

#include "vfs/limits.h"
#include "vfs/vfs.h"

enum final_kind { FINAL_NAME, FINAL_DOT, FINAL_DOTDOT };

static inline bool is_dot(const char *s, uint32_t n) { return n == 1 && s[0] == '.'; }
static inline bool is_dotdot(const char *s, uint32_t n) {
    return n == 2 && s[0] == '.' && s[1] == '.';
}

/* What to do with a symlink as the final component. */
enum follow_mode {
    FOLLOW_IF_TRAILING_SLASH = 0, /* "link/" means the directory it points to, as on Linux */
    FOLLOW_FINAL = 1,             /* = LOOKUP_SYMLINK_FOLLOW */
    FOLLOW_NEVER = 2,             /* rename: the link itself, even as "link/" */
};
/* Or'ed into follow by callers that hold the lock shared: a lazy directory on the way is
   then E_LAZY (lazy.h) instead of being loaded. */
#define WALK_SHARED 4u

struct path_walk {
    char buf[2][LIMIT_MAX_PATH_MAX];
    /* results */
    struct inode *dir;       /* directory that holds the final component */
    const char *name;        /* final component, inside buf */
    uint32_t name_len;
    struct dentry *entry;    /* its entry in dir; NULL when missing or . / .. */
    uint32_t dir_changes;    /* dir's change count before entry was looked up (dir_changes) */
    struct inode *node;      /* what it names (after following a final symlink if asked) */
    bool trailing_slash;
    bool reached_final;      /* the walk got to the final component (dir and name are set) */
    uint8_t final_kind;
};

/* Lock held (exclusive unless follow has WALK_SHARED). path may be w->buf[0] (where the callers read a guest's path). */
errno_t path_walk(struct path_walk *w, struct inode *base, const char *path, uint32_t len,
                  uint32_t follow);
/* Valid UTF-8 without NUL (EINVAL for NUL, EILSEQ otherwise), as wasmtime requires of a path. */
errno_t path_check_bytes(const uint8_t *s, uint32_t len);

#endif
