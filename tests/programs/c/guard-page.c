/* Hostile: a store into a PROT_NONE page between two accessible ones, as a thread stack
 * overflow would hit its guard page. SIGSEGV, status 139. */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
    unsigned char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + 4096, 4096, PROT_NONE) != 0) {
        printf("FAIL: mmap/mprotect\n");
        return 1;
    }
    p[0] = 1;
    p[2 * 4096] = 1;
    printf("pages around the guard ok\n");
    printf("touching the guard page\n");
    fflush(stdout);
    ((volatile unsigned char *)p)[4096 + 100] = 1;
    printf("FAIL: the guard page was writable\n");
    return 1;
}
