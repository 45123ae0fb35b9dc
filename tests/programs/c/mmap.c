/* The memory syscalls on anonymous private mappings: mmap (zero fill, hints, MAP_FIXED,
 * MAP_FIXED_NOREPLACE, PROT_NONE), munmap splitting a mapping, mprotect splitting and
 * restoring, madvise(MADV_DONTNEED) zero-filling, and brk growing and shrinking. Whether
 * a page is mapped is probed with MAP_FIXED_NOREPLACE (EEXIST when it is), whether it is
 * writable with a syscall that writes into it (EFAULT when it is not), so nothing here
 * faults. The guard-page program does the faulting. */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define PAGE 4096UL

static void fill_page(unsigned char *p, unsigned char v)
{
    for (size_t i = 0; i < PAGE; i++)
        p[i] = (unsigned char)(v + i);
}

static int page_holds(const unsigned char *p, unsigned char v)
{
    for (size_t i = 0; i < PAGE; i++)
        if (p[i] != (unsigned char)(v + i))
            return 0;
    return 1;
}

static int page_is_zero(const unsigned char *p)
{
    for (size_t i = 0; i < PAGE; i++)
        if (p[i])
            return 0;
    return 1;
}

/* 1 when [addr, addr+len) is entirely unmapped; the probe mapping is removed again. */
static int unmapped(void *addr, size_t len)
{
    void *q = mmap(addr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (q == MAP_FAILED) {
        CHECK(errno == EEXIST);
        return 0;
    }
    CHECK(q == addr);
    CHECK(munmap(q, len) == 0);
    return 1;
}

/* 1 when the kernel may write a struct timespec at p. */
static int kernel_can_write(void *p)
{
    long r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p);
    if (r == 0)
        return 1;
    CHECK(errno == EFAULT);
    return 0;
}

int main(void)
{
    /* brk first: glibc's malloc also uses brk, and has not run yet at this point. */
    uintptr_t start = (uintptr_t)syscall(SYS_brk, 0);
    CHECK(start != 0);
    uintptr_t grown = start + 64 * 1024;
    CHECK((uintptr_t)syscall(SYS_brk, grown) == grown);
    for (uintptr_t a = start; a < grown; a += 512)
        *(volatile unsigned char *)a = 0x77;
    CHECK((uintptr_t)syscall(SYS_brk, start) == start);
    CHECK((uintptr_t)syscall(SYS_brk, grown) == grown);
    /* Pages given back by the shrink come back zero-filled. */
    uintptr_t first_full = (start + PAGE - 1) & ~(PAGE - 1);
    for (uintptr_t a = first_full; a < grown; a++)
        CHECK(*(volatile unsigned char *)a == 0);
    CHECK((uintptr_t)syscall(SYS_brk, start) == start);
    /* A break below the initial one is refused: brk returns the current break. */
    CHECK((uintptr_t)syscall(SYS_brk, 4096) == start);
    CHECK((uintptr_t)syscall(SYS_brk, 0) == start);
    printf("brk grow, shrink, zero-fill ok\n");

    unsigned char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK((uintptr_t)p % PAGE == 0);
    for (int i = 0; i < 16; i++)
        CHECK(page_is_zero(p + i * PAGE));
    for (int i = 0; i < 16; i++)
        fill_page(p + i * PAGE, (unsigned char)i);
    printf("mmap anonymous zero-filled ok\n");

    CHECK(!unmapped(p, PAGE));
    CHECK(!unmapped(p + 15 * PAGE, PAGE));
    CHECK_ERRNO((long)mmap(p + 8 * PAGE, 4 * PAGE, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
                EEXIST);
    printf("MAP_FIXED_NOREPLACE over a mapping EEXIST ok\n");

    /* munmap from the middle splits the mapping in two. */
    CHECK(munmap(p + 4 * PAGE, 4 * PAGE) == 0);
    CHECK(unmapped(p + 4 * PAGE, 4 * PAGE));
    CHECK(!unmapped(p + 3 * PAGE, PAGE));
    CHECK(!unmapped(p + 8 * PAGE, PAGE));
    for (int i = 0; i < 16; i++)
        if (i < 4 || i >= 8)
            CHECK(page_holds(p + i * PAGE, (unsigned char)i));
    /* Unmapping a range that is already unmapped succeeds. */
    CHECK(munmap(p + 4 * PAGE, 4 * PAGE) == 0);
    CHECK_ERRNO(munmap(p + 1, PAGE), EINVAL);
    CHECK_ERRNO(munmap(p, 0), EINVAL);
    printf("munmap partial ok\n");

    /* MAP_FIXED_NOREPLACE into the hole gets exactly the address asked for. */
    unsigned char *hole = mmap(p + 4 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(hole == p + 4 * PAGE);
    for (int i = 4; i < 8; i++) {
        CHECK(page_is_zero(p + i * PAGE));
        fill_page(p + i * PAGE, (unsigned char)i);
    }
    printf("MAP_FIXED_NOREPLACE into a hole ok\n");

    /* mprotect of two pages in the middle splits the mapping three ways. */
    CHECK(kernel_can_write(p + 9 * PAGE));
    fill_page(p + 9 * PAGE, 9);
    CHECK(mprotect(p + 8 * PAGE, 2 * PAGE, PROT_READ) == 0);
    CHECK(!kernel_can_write(p + 8 * PAGE));
    CHECK(!kernel_can_write(p + 9 * PAGE));
    CHECK(kernel_can_write(p + 10 * PAGE));
    fill_page(p + 10 * PAGE, 10);
    CHECK(kernel_can_write(p + 7 * PAGE));
    fill_page(p + 7 * PAGE, 7);
    CHECK(page_holds(p + 8 * PAGE, 8) && page_holds(p + 9 * PAGE, 9));
    CHECK(mprotect(p + 8 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE) == 0);
    CHECK(kernel_can_write(p + 8 * PAGE));
    fill_page(p + 8 * PAGE, 8);
    /* Raw call: musl's mprotect wrapper rounds the address down itself. */
    CHECK_ERRNO(syscall(SYS_mprotect, p + 1, PAGE, PROT_READ), EINVAL);
    printf("mprotect split and restore ok\n");

    /* MAP_FIXED replaces what was there with fresh zero pages. */
    unsigned char *fixed = mmap(p + 12 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(fixed == p + 12 * PAGE);
    CHECK(page_is_zero(p + 12 * PAGE) && page_is_zero(p + 13 * PAGE));
    CHECK(page_holds(p + 11 * PAGE, 11) && page_holds(p + 14 * PAGE, 14));
    fill_page(p + 12 * PAGE, 12);
    fill_page(p + 13 * PAGE, 13);
    printf("MAP_FIXED replaces ok\n");

    /* MADV_DONTNEED on private anonymous memory: the next touch reads zeros. */
    CHECK(madvise(p + 2 * PAGE, 2 * PAGE, MADV_DONTNEED) == 0);
    CHECK(page_is_zero(p + 2 * PAGE) && page_is_zero(p + 3 * PAGE));
    CHECK(page_holds(p + 1 * PAGE, 1) && page_holds(p + 4 * PAGE, 4));
    printf("madvise DONTNEED zero-fill ok\n");

    for (int i = 0; i < 16; i++)
        if (i < 2 || i >= 4)
            CHECK(page_holds(p + i * PAGE, (unsigned char)i));
    CHECK(munmap(p, 16 * PAGE) == 0);
    CHECK(unmapped(p, 16 * PAGE));
    printf("munmap whole ok\n");

    /* A free hint address is honoured without MAP_FIXED. */
    void *hint = (void *)0x300000000000UL;
    void *h = mmap(hint, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h == hint);
    /* A hint over an existing mapping is only a hint: some other address comes back. */
    void *h2 = mmap(hint, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h2 != MAP_FAILED && h2 != hint);
    CHECK(munmap(h, 4 * PAGE) == 0 && munmap(h2, 4 * PAGE) == 0);
    printf("mmap hint ok\n");

    /* PROT_NONE reservations, opened up later as thread stacks are. */
    unsigned char *r = mmap(NULL, 64 * PAGE, PROT_NONE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(r != MAP_FAILED);
    CHECK(!kernel_can_write(r + 5 * PAGE));
    CHECK(mprotect(r + PAGE, 63 * PAGE, PROT_READ | PROT_WRITE) == 0);
    CHECK(!kernel_can_write(r));
    CHECK(kernel_can_write(r + 63 * PAGE));
    r[PAGE] = 1;
    r[63 * PAGE + 4095] = 2;
    CHECK(r[PAGE] == 1 && r[63 * PAGE + 4095] == 2);
    CHECK(munmap(r, 64 * PAGE) == 0);
    printf("PROT_NONE reservation ok\n");

    CHECK_ERRNO((long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    CHECK_ERRNO((long)mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
    CHECK_ERRNO((long)mmap((void *)(p + 1), PAGE, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                EINVAL);
    printf("mmap argument errors ok\n");

    printf("PASS\n");
    return 0;
}
