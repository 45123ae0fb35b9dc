/* Hostile: an undefined instruction. SIGILL, status 128 + 4. */
#include <stdio.h>

int main(void)
{
    printf("executing ud2\n");
    fflush(stdout);
    __asm__ volatile("ud2");
    printf("FAIL: ud2 returned\n");
    return 1;
}
