/* random_get: lengths 0..1 MiB, different results per call, bytes look random;
 * libc getentropy / arc4random built on it. */
#include "wasi_test.h"

static unsigned char big[1 << 20];

int main(void) {
    unsigned char a[64], b[64], guard[80];
    SECTION("random_get");
    EXPECT_OK("random_get 0 bytes", __wasi_random_get(a, 0));
    memset(guard, 0xAA, sizeof guard);
    EXPECT_OK("random_get 1 byte", __wasi_random_get(guard, 1));
    int untouched = 1;
    for (size_t i = 1; i < sizeof guard; i++) untouched &= guard[i] == 0xAA;
    EXPECT_TRUE("bytes after the buffer untouched", untouched);
    memset(guard, 0xAA, sizeof guard);
    EXPECT_OK("random_get 64 bytes", __wasi_random_get(guard + 8, 64));
    untouched = 1;
    for (size_t i = 0; i < 8; i++) untouched &= guard[i] == 0xAA && guard[72 + i] == 0xAA;
    EXPECT_TRUE("bytes around the buffer untouched", untouched);
    EXPECT_OK("random_get a", __wasi_random_get(a, sizeof a));
    EXPECT_OK("random_get b", __wasi_random_get(b, sizeof b));
    EXPECT_TRUE("two calls differ", memcmp(a, b, sizeof a) != 0);
    EXPECT_OK("random_get 1 MiB", __wasi_random_get(big, sizeof big));
    size_t counts[256] = {0};
    for (size_t i = 0; i < sizeof big; i++) counts[big[i]]++;
    int balanced = 1;
    for (int v = 0; v < 256; v++) balanced &= counts[v] > 3500 && counts[v] < 4700; /* mean 4096 */
    EXPECT_TRUE("byte histogram of 1 MiB is flat", balanced);
    size_t same_tail = 0;
    for (size_t i = sizeof big - 4096; i < sizeof big; i++) same_tail += big[i] == big[i - 4096];
    EXPECT_TRUE("last 4 KiB is not a copy of the previous 4 KiB", same_tail < 100);

    SECTION("libc");
    EXPECT_LIBC("getentropy 256", getentropy(a, 32) | getentropy(big, 256), 0);
    EXPECT_LIBC("getentropy 257", getentropy(big, 257), EIO);
    uint32_t r1 = arc4random(), r2 = arc4random(), r3 = arc4random();
    EXPECT_TRUE("arc4random values not all equal", !(r1 == r2 && r2 == r3));
    uint32_t u = arc4random_uniform(10);
    EXPECT_TRUE("arc4random_uniform(10) < 10", u < 10);
    return done();
}
