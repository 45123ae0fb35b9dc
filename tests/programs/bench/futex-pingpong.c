/* Two threads hand a token back and forth through one futex word: each round trip is
 * two FUTEX_WAKEs and two FUTEX_WAITs (unless the other side is still spinning). */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static atomic_uint turn; /* 0: main's turn, 1: the partner's */
static long rounds;

static void pass_to(unsigned next)
{
    atomic_store(&turn, next);
    syscall(SYS_futex, &turn, 1 | 128 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0);
}

static void wait_for(unsigned mine)
{
    unsigned v;
    while ((v = atomic_load(&turn)) != mine)
        syscall(SYS_futex, &turn, 0 | 128 /* FUTEX_WAIT_PRIVATE */, v, NULL, NULL, 0);
}

static void *partner(void *arg)
{
    for (long i = 0; i < rounds; i++) {
        wait_for(1);
        pass_to(0);
    }
    return arg;
}

int main(int argc, char **argv)
{
    rounds = bench_iterations(argc, argv, 20000);
    pthread_t t;
    BENCH_CHECK(pthread_create(&t, NULL, partner, NULL) == 0);
    long long start = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        pass_to(1);
        wait_for(0);
    }
    long long elapsed = bench_now_ns() - start;
    BENCH_CHECK(pthread_join(t, NULL) == 0);
    bench_report("futex-pingpong", elapsed, rounds);
    return 0;
}
