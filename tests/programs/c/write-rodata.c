/* Hostile: a store into .rodata, which is mapped read-only. SIGSEGV, status 139. */
#include <stdio.h>

static const char message[] = "read-only data";

int main(void)
{
    char *volatile p = (char *)message;
    printf("writing to read-only data\n");
    fflush(stdout);
    p[0] = 'X';
    printf("FAIL: the write succeeded: %s\n", message);
    return 1;
}
