#include "process/fdops.h"

errno_t fd_get(uint32_t fd, struct fd_entry **out) {
    *out = fd_lookup(current_process(), fd);
    return *out ? E_SUCCESS : E_BADF;
}

errno_t fd_get_file(uint32_t fd, struct fd_entry **out, errno_t stdio_error) {
    errno_t err = fd_get(fd, out);
    if (err) return err;
    if ((*out)->kind == FD_FILE) return E_SUCCESS;
    return (*out)->kind == FD_DIR ? E_BADF : stdio_error;
}

errno_t fd_get_dir(uint32_t fd, struct fd_entry **out) {
    errno_t err = fd_get(fd, out);
    if (err) return err;
    return (*out)->kind == FD_DIR ? E_SUCCESS : E_BADF;
}

