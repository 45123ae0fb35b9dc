/* Hostile but survivable: syscall numbers that do not exist get ENOSYS and the program
 * goes on, as on Linux. */
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    CHECK_ERRNO(syscall(1000), ENOSYS);
    printf("syscall 1000 ENOSYS ok\n");
    CHECK_ERRNO(syscall(100000, 1, 2, 3, 4, 5, 6), ENOSYS);
    printf("syscall 100000 ENOSYS ok\n");
    /* 335..423 are unassigned on x86_64. */
    CHECK_ERRNO(syscall(400), ENOSYS);
    printf("syscall 400 ENOSYS ok\n");
    CHECK_ERRNO(syscall(-1L), ENOSYS);
    printf("syscall -1 ENOSYS ok\n");
    CHECK(syscall(SYS_getpid) == getpid());
    printf("still running ok\n");
    printf("ENOSYS ok\n");
    printf("PASS\n");
    return 0;
}
