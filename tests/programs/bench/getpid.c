/* Syscall round trip: raw SYS_getpid in a loop (no libc caching, no vDSO). */
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 1000000);
    long pid = syscall(SYS_getpid);
    long long start = bench_now_ns();
    for (long i = 0; i < n; i++)
        BENCH_CHECK(syscall(SYS_getpid) == pid);
    bench_report("getpid", bench_now_ns() - start, n);
    return 0;
}
