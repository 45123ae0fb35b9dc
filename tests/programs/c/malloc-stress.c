/* malloc, free, realloc, calloc and aligned allocation through both allocator paths:
 * small blocks (glibc: the brk heap; musl: its own slabs) and blocks above the 128 KiB
 * mmap threshold, each filled with a pattern that is checked before it is freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define SMALL_COUNT 4000
#define LARGE_COUNT 16

static unsigned char pattern(size_t block, size_t i)
{
    return (unsigned char)(block * 31 + i * 7 + 1);
}

static void fill(unsigned char *p, size_t n, size_t block)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(block, i);
}

static int intact(const unsigned char *p, size_t n, size_t block)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(block, i))
            return 0;
    return 1;
}

static unsigned char *small[SMALL_COUNT];
static size_t small_size[SMALL_COUNT];

int main(void)
{
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        small_size[i] = 1 + (i * 37) % 500;
        small[i] = malloc(small_size[i]);
        CHECK(small[i] != NULL);
        CHECK((uintptr_t)small[i] % 16 == 0);
        fill(small[i], small_size[i], i);
    }
    for (size_t i = 0; i < SMALL_COUNT; i++)
        CHECK(intact(small[i], small_size[i], i));
    /* Free every other block, then reuse the holes. */
    for (size_t i = 0; i < SMALL_COUNT; i += 2) {
        free(small[i]);
        small[i] = NULL;
    }
    for (size_t i = 0; i < SMALL_COUNT; i += 2) {
        small_size[i] = 1 + (i * 13) % 300;
        small[i] = malloc(small_size[i]);
        CHECK(small[i] != NULL);
        fill(small[i], small_size[i], i);
    }
    for (size_t i = 0; i < SMALL_COUNT; i++)
        CHECK(intact(small[i], small_size[i], i));
    printf("small allocations ok\n");

    /* realloc keeps the old contents when growing and shrinking. */
    for (size_t i = 1; i < SMALL_COUNT; i += 2) {
        size_t old = small_size[i];
        size_t grown = old * 3 + 100;
        small[i] = realloc(small[i], grown);
        CHECK(small[i] != NULL);
        CHECK(intact(small[i], old, i));
        fill(small[i], grown, i);
        small_size[i] = grown;
    }
    for (size_t i = 1; i < SMALL_COUNT; i += 8) {
        small[i] = realloc(small[i], 8);
        CHECK(small[i] != NULL);
        CHECK(intact(small[i], 8, i));
        small_size[i] = 8;
    }
    for (size_t i = 0; i < SMALL_COUNT; i++) {
        CHECK(intact(small[i], small_size[i], i));
        free(small[i]);
    }
    printf("small realloc ok\n");

    /* Above the mmap threshold (128 KiB by default in glibc). */
    unsigned char *large[LARGE_COUNT];
    size_t large_size[LARGE_COUNT];
    for (size_t i = 0; i < LARGE_COUNT; i++) {
        large_size[i] = (200 + i * 61) * 1024 + i * 5;
        large[i] = malloc(large_size[i]);
        CHECK(large[i] != NULL);
        fill(large[i], large_size[i], i + 1000);
    }
    for (size_t i = 0; i < LARGE_COUNT; i++)
        CHECK(intact(large[i], large_size[i], i + 1000));
    for (size_t i = 0; i < LARGE_COUNT; i += 2) {
        size_t old = large_size[i];
        large_size[i] = old * 2;
        large[i] = realloc(large[i], large_size[i]);
        CHECK(large[i] != NULL);
        CHECK(intact(large[i], old, i + 1000));
        fill(large[i], large_size[i], i + 1000);
    }
    for (size_t i = 0; i < LARGE_COUNT; i++) {
        CHECK(intact(large[i], large_size[i], i + 1000));
        free(large[i]);
    }
    printf("large allocations ok\n");

    /* A big block that is touched page by page (demand paging), then freed. */
    size_t big_size = 32u << 20;
    unsigned char *big = malloc(big_size);
    CHECK(big != NULL);
    for (size_t off = 0; off < big_size; off += 4096)
        big[off] = (unsigned char)(off >> 12);
    for (size_t off = 0; off < big_size; off += 4096)
        CHECK(big[off] == (unsigned char)(off >> 12));
    free(big);
    printf("32 MiB block ok\n");

    /* calloc returns zeroed memory, even when it reuses freed blocks. */
    for (size_t round = 0; round < 2; round++) {
        unsigned char *dirty = malloc(300 * 1024);
        CHECK(dirty != NULL);
        memset(dirty, 0xa5, 300 * 1024);
        free(dirty);
        unsigned char *small_dirty = malloc(1000);
        CHECK(small_dirty != NULL);
        memset(small_dirty, 0x5a, 1000);
        free(small_dirty);
        unsigned char *z = calloc(1000, 1);
        unsigned char *zl = calloc(300, 1024);
        CHECK(z != NULL && zl != NULL);
        for (size_t i = 0; i < 1000; i++)
            CHECK(z[i] == 0);
        for (size_t i = 0; i < 300 * 1024; i++)
            CHECK(zl[i] == 0);
        free(z);
        free(zl);
    }
    printf("calloc ok\n");

    void *aligned = NULL;
    CHECK(posix_memalign(&aligned, 4096, 10000) == 0);
    CHECK((uintptr_t)aligned % 4096 == 0);
    memset(aligned, 1, 10000);
    free(aligned);
    void *aligned64 = aligned_alloc(64, 640);
    CHECK(aligned64 != NULL && (uintptr_t)aligned64 % 64 == 0);
    free(aligned64);
    printf("aligned allocations ok\n");

    printf("PASS\n");
    return 0;
}
