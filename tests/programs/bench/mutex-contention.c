/* A pthread mutex shared by 2 and then 4 threads, each locking it for a short critical
 * section in a loop. The figure is wall time per lock/unlock pair across all threads. */
#include <pthread.h>

#include "bench.h"

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static long per_thread;
static pthread_barrier_t start_line;

static void *worker(void *arg)
{
    pthread_barrier_wait(&start_line);
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&mutex);
        counter = counter + 1;
        pthread_mutex_unlock(&mutex);
    }
    return arg;
}

static void run(int threads, const char *name)
{
    pthread_t t[4];
    counter = 0;
    BENCH_CHECK(pthread_barrier_init(&start_line, NULL, threads + 1) == 0);
    for (int i = 0; i < threads; i++)
        BENCH_CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
    long long start = bench_now_ns();
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < threads; i++)
        BENCH_CHECK(pthread_join(t[i], NULL) == 0);
    long long elapsed = bench_now_ns() - start;
    BENCH_CHECK(counter == per_thread * threads);
    BENCH_CHECK(pthread_barrier_destroy(&start_line) == 0);
    bench_report(name, elapsed, per_thread * threads);
}

int main(int argc, char **argv)
{
    per_thread = bench_iterations(argc, argv, 500000);
    run(2, "mutex-2threads");
    run(4, "mutex-4threads");
    return 0;
}
