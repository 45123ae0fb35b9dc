/* Hostile: a call into the stack, which is not executable (PT_GNU_STACK without X).
 * SIGSEGV, status 139. */
#include <stdio.h>

int main(void)
{
    volatile unsigned char code[16] = {0xc3}; /* ret */
    void (*volatile fn)(void) = (void (*)(void))code;
    printf("calling into the stack\n");
    fflush(stdout);
    fn();
    printf("FAIL: executed code on the stack\n");
    return 1;
}
