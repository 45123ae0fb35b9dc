/* Hostile: a load from address 0. Linux's default action for the SIGSEGV kills the
 * program; the shell sees status 128 + 11. */
#include <stdio.h>

int main(void)
{
    /* volatile, so the compiler cannot see the NULL and emit ud2 in its place. */
    int *volatile p = 0;
    printf("dereferencing NULL\n");
    fflush(stdout);
    int v = *p;
    printf("FAIL: read %d from NULL\n", v);
    return 1;
}
