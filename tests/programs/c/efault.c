/* Hostile but survivable: bad user pointers handed to syscalls must fail with EFAULT
 * and leave the program running, as on Linux. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    /* Raw syscalls throughout: libc wrappers may touch the buffers themselves. */
    CHECK_ERRNO(syscall(SYS_write, 1, (void *)1, 10), EFAULT);
    printf("write from (void *)1 EFAULT ok\n");

    CHECK_ERRNO(syscall(SYS_write, 1, (void *)0xffff800000000000UL, 10), EFAULT);
    CHECK_ERRNO(syscall(SYS_write, 1, (void *)0xffffffff80000000UL, 10), EFAULT);
    printf("write from kernel addresses EFAULT ok\n");

    int fd = open("/data/hello.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_ERRNO(syscall(SYS_read, fd, (void *)8, 10), EFAULT);
    printf("read into a bad pointer EFAULT ok\n");
    CHECK(close(fd) == 0);

    /* An unmapped page right after a mapped one. */
    unsigned char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(munmap(p + 4096, 4096) == 0);
    CHECK_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p + 4096), EFAULT);
    CHECK_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1), EFAULT);
    printf("clock_gettime into a bad pointer EFAULT ok\n");

    struct iovec bad_iov[2] = {{(void *)"ok", 0}, {(void *)16, 5}};
    CHECK_ERRNO(syscall(SYS_writev, 1, bad_iov, 2), EFAULT);
    CHECK_ERRNO(syscall(SYS_writev, 1, (void *)24, 1), EFAULT);
    printf("writev with a bad iovec EFAULT ok\n");

    CHECK_ERRNO(syscall(SYS_openat, AT_FDCWD, (void *)1, O_RDONLY), EFAULT);
    printf("open with a bad path EFAULT ok\n");

    printf("EFAULT ok\n");
    printf("PASS\n");
    return 0;
}
