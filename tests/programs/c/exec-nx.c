/* Hostile: a call into a page mapped read/write but not executable. With NX the
 * instruction fetch faults: SIGSEGV, status 139. The page holds a valid `ret`, so a
 * kernel that forgets NX would return here and the program would report the failure. */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        printf("FAIL: mmap\n");
        return 1;
    }
    page[0] = 0xc3; /* ret */
    void (*volatile fn)(void) = (void (*)(void))page;
    printf("calling into a non-executable page\n");
    fflush(stdout);
    fn();
    printf("FAIL: executed code in a non-executable page\n");
    return 1;
}
