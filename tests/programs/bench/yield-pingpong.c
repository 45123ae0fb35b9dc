/* Two threads on one CPU take turns through a shared variable, each calling sched_yield
 * until it is its turn: every round trip is two yields that switch threads. Both threads
 * are pinned to CPU 0 (when affinity works) so the yield has someone to switch to. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench.h"

static atomic_long turn; /* even: main, odd: partner */
static long rounds;

static void pin_to_cpu0(void)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one); /* best effort */
}

static void *partner(void *arg)
{
    pin_to_cpu0();
    for (long i = 0; i < rounds; i++) {
        while (atomic_load(&turn) != 2 * i + 1)
            sched_yield();
        atomic_store(&turn, 2 * i + 2);
    }
    return arg;
}

int main(int argc, char **argv)
{
    rounds = bench_iterations(argc, argv, 50000);
    pin_to_cpu0();
    pthread_t t;
    BENCH_CHECK(pthread_create(&t, NULL, partner, NULL) == 0);
    long long start = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        atomic_store(&turn, 2 * i + 1);
        while (atomic_load(&turn) != 2 * i + 2)
            sched_yield();
    }
    long long elapsed = bench_now_ns() - start;
    BENCH_CHECK(pthread_join(t, NULL) == 0);
    bench_report("yield-pingpong", elapsed, rounds);
    return 0;
}
