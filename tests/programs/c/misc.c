/* Thread odds and ends: 4 threads created detached plus one detached later with
 * pthread_detach meet the main thread at a 6-party barrier and report through a
 * semaphore; pthread_cond_timedwait times out after 50 ms on CLOCK_REALTIME and on
 * CLOCK_MONOTONIC; nanosleep sleeps 20 ms; clock_nanosleep with TIMER_ABSTIME. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "check.h"

#define DETACHED 5

static pthread_barrier_t barrier;
static sem_t finished;
static atomic_int serial_count;
static atomic_int work_done;

static void *detached_worker(void *arg)
{
    int rc = pthread_barrier_wait(&barrier);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
    if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
        atomic_fetch_add(&serial_count, 1);
    atomic_fetch_add(&work_done, (int)(long)arg);
    CHECK(sem_post(&finished) == 0);
    return NULL;
}

static void timed_wait(clockid_t clock, const char *name)
{
    pthread_condattr_t attr;
    pthread_cond_t cond;
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    CHECK_PT(pthread_condattr_init(&attr));
    CHECK_PT(pthread_condattr_setclock(&attr, clock));
    CHECK_PT(pthread_cond_init(&cond, &attr));

    struct timespec deadline;
    CHECK(clock_gettime(clock, &deadline) == 0);
    long long start = now_ns(clock);
    deadline.tv_nsec += 50000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    CHECK_PT(pthread_mutex_lock(&mutex));
    int rc;
    do
        rc = pthread_cond_timedwait(&cond, &mutex, &deadline);
    while (rc == 0); /* a spurious wake-up is allowed; wait again */
    CHECK(rc == ETIMEDOUT);
    CHECK_PT(pthread_mutex_unlock(&mutex));
    CHECK(now_ns(clock) - start >= 50000000LL);
    CHECK_PT(pthread_cond_destroy(&cond));
    CHECK_PT(pthread_condattr_destroy(&attr));
    printf("pthread_cond_timedwait 50 ms %s ETIMEDOUT ok\n", name);
}

int main(void)
{
    CHECK_PT(pthread_barrier_init(&barrier, NULL, DETACHED + 1));
    CHECK(sem_init(&finished, 0, 0) == 0);

    pthread_attr_t attr;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
    pthread_t t;
    for (long i = 1; i < DETACHED; i++)
        CHECK_PT(pthread_create(&t, &attr, detached_worker, (void *)i));
    CHECK_PT(pthread_attr_destroy(&attr));
    CHECK_PT(pthread_create(&t, NULL, detached_worker, (void *)DETACHED));
    CHECK_PT(pthread_detach(t));

    int rc = pthread_barrier_wait(&barrier);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
    if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
        atomic_fetch_add(&serial_count, 1);
    for (int i = 0; i < DETACHED; i++)
        while (sem_wait(&finished) != 0)
            CHECK(errno == EINTR);
    CHECK(atomic_load(&serial_count) == 1);
    CHECK(atomic_load(&work_done) == 1 + 2 + 3 + 4 + 5);
    printf("detached threads, barrier, semaphore ok\n");

    CHECK(sem_trywait(&finished) == -1 && errno == EAGAIN);
    struct timespec sem_deadline;
    CHECK(clock_gettime(CLOCK_REALTIME, &sem_deadline) == 0);
    sem_deadline.tv_sec += 0;
    sem_deadline.tv_nsec += 20000000L;
    if (sem_deadline.tv_nsec >= 1000000000L) {
        sem_deadline.tv_sec++;
        sem_deadline.tv_nsec -= 1000000000L;
    }
    CHECK_ERRNO(sem_timedwait(&finished, &sem_deadline), ETIMEDOUT);
    printf("sem_trywait EAGAIN and sem_timedwait ETIMEDOUT ok\n");

    timed_wait(CLOCK_REALTIME, "CLOCK_REALTIME");
    timed_wait(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");

    long long start = now_ns(CLOCK_MONOTONIC);
    struct timespec twenty = {0, 20000000L};
    CHECK(nanosleep(&twenty, NULL) == 0);
    CHECK(now_ns(CLOCK_MONOTONIC) - start >= 20000000LL);
    printf("nanosleep 20 ms ok\n");

    struct timespec until;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &until) == 0);
    start = now_ns(CLOCK_MONOTONIC);
    until.tv_nsec += 10000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0);
    CHECK(now_ns(CLOCK_MONOTONIC) - start >= 10000000LL);
    /* A deadline in the past returns at once. */
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == 0);
    printf("clock_nanosleep TIMER_ABSTIME ok\n");

    CHECK_PT(pthread_barrier_destroy(&barrier));
    printf("PASS\n");
    return 0;
}
