#include "process/stdio.h"
#include "base/alloc.h"
#include "base/hooks.h"

static void deliver(struct out_buffer *b, int stream) {
    if (!b->len) return;
    uint32_t len = b->len;
    b->len = 0;
    hook_output((uint32_t)stream, core_addr(b->data), len);
}

void stdio_flush(struct process *p) {
    deliver(&p->out[0], 1);
    deliver(&p->out[1], 2);
}

static bool has_newline(const uint8_t *data, uint32_t len) {
    for (uint32_t i = 0; i < len; i++)
        if (data[i] == '\n') return true;
    return false;
}

static errno_t ensure_buffer(struct process *p, uint8_t **buf, uint32_t size) {
    if (*buf) return E_SUCCESS;
    process_lock(p);
    *buf = mem_alloc(size);
    vfs_unlock();
    return *buf ? E_SUCCESS : E_NOMEM;
}

/* stream: 1 stdout, 2 stderr. The caller has checked the guest range. The process is busy
   meanwhile: a host that delivers buffered output between calls (wasi_wasm_out_buffers)
   never sees a buffer halfway changed. What the other stream holds goes out first, so the
   two keep the order in which the program wrote them. */
errno_t stdio_write(struct process *p, int stream, uint32_t guest_src, uint32_t len) {
    struct out_buffer *b = &p->out[stream - 1];
    errno_t err = ensure_buffer(p, &b->data, OUT_BUFFER_SIZE);
    if (err) return err;
    holder_mark_busy(&p->holder, true);
    deliver(&p->out[2 - stream], 3 - stream);
    bool newline = false;
    while (len) {
        if (b->len == OUT_BUFFER_SIZE) deliver(b, stream);
        uint32_t n = OUT_BUFFER_SIZE - b->len;
        if (n > len) n = len;
        hook_copy_in(core_addr(b->data + b->len), guest_src, n);
        newline = newline || (p->stdio_mode == STDIO_AT_NEWLINE && has_newline(b->data + b->len, n));
        b->len += n;
        guest_src += n;
        len -= n;
    }
    if (p->stdio_mode == STDIO_EACH_WRITE || newline) deliver(b, stream);
    holder_mark_busy(&p->holder, false);
    return E_SUCCESS;
}

/* One host read per call, like a read(2) on a pipe: it may return fewer bytes. Output is
   flushed first so that a prompt is visible before the program waits for input. */
errno_t stdio_read(struct process *p, uint32_t guest_dst, uint32_t len, uint32_t *nread) {
    errno_t err = ensure_buffer(p, &p->io_buf, IO_BUFFER_SIZE);
    if (err) return err;
    stdio_flush(p);
    if (len > IO_BUFFER_SIZE) len = IO_BUFFER_SIZE;
    int32_t got = len ? hook_input(core_addr(p->io_buf), len) : 0;
    if (got < 0) return (errno_t)-got;
    if ((uint32_t)got > len) return E_IO;
    hook_copy_out(guest_dst, core_addr(p->io_buf), (uint32_t)got);
    *nread = (uint32_t)got;
    return E_SUCCESS;
}

uint8_t stdio_filetype(const struct process *p, enum fd_kind kind) {
    uint32_t stream = kind == FD_STDIN ? 0 : kind == FD_STDOUT ? 1 : kind == FD_STDERR ? 2 : 3;
    return stream < 3 && (p->tty_streams >> stream & 1) ? FILETYPE_CHARACTER_DEVICE : FILETYPE_UNKNOWN;
}
