/* proc_raise and the sock_* calls: there is no socket in a preview 1 program without a
 * preopened socket, so only the errors wasmtime gives are checked: ENOTSOCK on non-socket
 * fds, EBADF on closed fds, ENOTSUP for proc_raise. */
#include "wasi_test.h"

int main(void) {
    __wasi_fd_t fd, out;
    char b[8] = "payload";
    __wasi_iovec_t iv = {(uint8_t *)b, sizeof b};
    __wasi_ciovec_t cv = {(const uint8_t *)b, sizeof b};
    __wasi_size_t n;
    __wasi_roflags_t ro;
    make_file("f", "x");
    EXPECT_OK("open file", open_at(SANDBOX_FD, "f", 0, 0, RIGHTS_RW, 0, &fd));

    SECTION("sock_accept");
    EXPECT_ERRNO("accept on a file", __wasi_sock_accept(fd, 0, &out), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("accept on a directory", __wasi_sock_accept(SANDBOX_FD, 0, &out), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("accept on stdin", __wasi_sock_accept(0, 0, &out), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("accept NONBLOCK on stdout", __wasi_sock_accept(1, __WASI_FDFLAGS_NONBLOCK, &out), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("accept on a bad fd", __wasi_sock_accept(99, 0, &out), __WASI_ERRNO_BADF);

    SECTION("sock_recv");
    EXPECT_ERRNO("recv on a file", __wasi_sock_recv(fd, &iv, 1, 0, &n, &ro), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("recv PEEK on stdin", __wasi_sock_recv(0, &iv, 1, __WASI_RIFLAGS_RECV_PEEK, &n, &ro), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("recv on a bad fd", __wasi_sock_recv(99, &iv, 1, 0, &n, &ro), __WASI_ERRNO_BADF);

    SECTION("sock_send");
    EXPECT_ERRNO("send on a file", __wasi_sock_send(fd, &cv, 1, 0, &n), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("send on stdout", __wasi_sock_send(1, &cv, 1, 0, &n), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("send on a bad fd", __wasi_sock_send(99, &cv, 1, 0, &n), __WASI_ERRNO_BADF);
    char buf[8];
    EXPECT_TRUE("file unchanged by the failed send", slurp("f", buf, sizeof buf) == 1);

    SECTION("sock_shutdown");
    EXPECT_ERRNO("shutdown RD on a file", __wasi_sock_shutdown(fd, __WASI_SDFLAGS_RD), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("shutdown WR on a directory", __wasi_sock_shutdown(SANDBOX_FD, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
    EXPECT_ERRNO("shutdown on a bad fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR), __WASI_ERRNO_BADF);
    (void)__wasi_fd_close(fd);
    EXPECT_ERRNO("recv on a closed fd", __wasi_sock_recv(fd, &iv, 1, 0, &n, &ro), __WASI_ERRNO_BADF);

    SECTION("proc_raise");
    EXPECT_ERRNO("proc_raise(0)", wt_proc_raise(0), __WASI_ERRNO_NOTSUP);
    EXPECT_ERRNO("proc_raise(SIGABRT)", wt_proc_raise(6), __WASI_ERRNO_NOTSUP);
    EXPECT_ERRNO("proc_raise(SIGTERM)", wt_proc_raise(15), __WASI_ERRNO_NOTSUP);
    printf("still running after proc_raise: yes\n");
    return done();
}
