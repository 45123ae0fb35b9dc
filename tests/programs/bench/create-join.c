/* pthread_create followed at once by pthread_join of a thread that returns at once. */
#include <pthread.h>

#include "bench.h"

static void *nothing(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 5000);
    long long start = bench_now_ns();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        BENCH_CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
        BENCH_CHECK(pthread_join(t, NULL) == 0);
    }
    bench_report("create-join", bench_now_ns() - start, n);
    return 0;
}
