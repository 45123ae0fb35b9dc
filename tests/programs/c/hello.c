/* The baseline: libc start-up, one printf, exit 0. */
#include <stdio.h>

int main(void)
{
    printf("Hello from Spindle!\n");
    return 0;
}
