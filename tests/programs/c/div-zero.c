/* Hostile: integer division by zero (#DE). SIGFPE, status 128 + 8. */
#include <stdio.h>

int main(void)
{
    volatile int dividend = 42, divisor = 0;
    printf("dividing by zero\n");
    fflush(stdout);
    int q = dividend / divisor;
    printf("FAIL: quotient %d\n", q);
    return 1;
}
