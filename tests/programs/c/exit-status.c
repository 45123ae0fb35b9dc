/* Ends with the status given as argv[1], so the exit path (exit_group and the status the
 * host sees) can be checked for any value 0..255. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int status = argc > 1 ? atoi(argv[1]) : 0;
    printf("exiting with status %d\n", status);
    exit(status);
}
