/* CPU count and affinity. The count a program sees must agree between
 * sched_getaffinity, sysconf(_SC_NPROCESSORS_ONLN) and get_nprocs (it varies with the
 * machine, so only the agreement is printed; the program must start with every online
 * CPU in its mask, as it does on Spindle and on an unrestricted Linux). Pinning to each CPU in turn must move the
 * thread there (sched_getcpu), a new thread inherits its creator's mask, and masks that
 * name no usable CPU are refused with EINVAL. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "check.h"

static void *report_mask(void *arg)
{
    cpu_set_t *out = arg;
    CHECK(sched_getaffinity(0, sizeof *out, out) == 0);
    return NULL;
}

int main(void)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    int n = CPU_COUNT(&all);
    CHECK(n >= 1);
    CHECK(sysconf(_SC_NPROCESSORS_ONLN) == n);
    CHECK(get_nprocs() == n);
    CHECK(sysconf(_SC_NPROCESSORS_CONF) >= n);
    printf("nprocs consistent\n");

    /* The raw syscall returns the size of the kernel's mask (a multiple of 8 bytes that
     * depends on the kernel's configuration) and refuses a length that is not a multiple
     * of sizeof(long). */
    unsigned long raw[16];
    long size = syscall(SYS_sched_getaffinity, 0, sizeof raw, raw);
    CHECK(size >= 8 && size <= (long)sizeof raw && size % 8 == 0);
    CHECK(syscall(SYS_sched_getaffinity, 0, 8, raw) == 8);
    CHECK_ERRNO(syscall(SYS_sched_getaffinity, 0, 4, raw), EINVAL);
    printf("raw sched_getaffinity size ok\n");

    int cpu = sched_getcpu();
    CHECK(cpu >= 0 && CPU_ISSET(cpu, &all));
    printf("sched_getcpu in the mask ok\n");

    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, &all))
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(i, &one);
        CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
        CHECK(sched_getcpu() == i);
        cpu_set_t now;
        CHECK(sched_getaffinity(0, sizeof now, &now) == 0);
        CHECK(CPU_EQUAL(&now, &one));
    }
    printf("pinned to each CPU ok\n");

    cpu_set_t only0;
    CPU_ZERO(&only0);
    CPU_SET(0, &only0);
    CHECK(sched_setaffinity(0, sizeof only0, &only0) == 0);
    CHECK(sched_getcpu() == 0);
    printf("pinned to CPU 0 ok\n");
    cpu_set_t inherited;
    CPU_ZERO(&inherited);
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, report_mask, &inherited));
    CHECK_PT(pthread_join(t, NULL));
    CHECK(CPU_EQUAL(&inherited, &only0));
    printf("new thread inherits the mask ok\n");

    cpu_set_t empty;
    CPU_ZERO(&empty);
    CHECK_ERRNO(sched_setaffinity(0, sizeof empty, &empty), EINVAL);
    cpu_set_t absent;
    CPU_ZERO(&absent);
    CPU_SET(CPU_SETSIZE - 1, &absent);
    CHECK_ERRNO(sched_setaffinity(0, sizeof absent, &absent), EINVAL);
    printf("masks without a usable CPU EINVAL ok\n");

    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    cpu_set_t back;
    CHECK(sched_getaffinity(0, sizeof back, &back) == 0);
    CHECK(CPU_EQUAL(&back, &all));
    printf("mask restored ok\n");
    printf("PASS\n");
    return 0;
}
