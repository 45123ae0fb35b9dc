/* Futex stress from several CPUs: a mutex built directly on futex (the three-state
 * 0/1/2 design) guarding a plain counter, run once with private and once with shared
 * futex keys; a semaphore ping-pong between two threads; and a futex barrier that all
 * threads cross many times. A lost wake-up shows as a hang (the harness's timeout), a
 * broken mutual exclusion as a wrong count. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "linux-abi.h"

#define THREADS 4
#define INCREMENTS 20000
#define PING_PONGS 5000
#define BARRIER_ROUNDS 300

static void futex_wait(atomic_uint *word, unsigned val, int private_flag)
{
    long r = syscall(SYS_futex, word, FUTEX_WAIT | private_flag, val, NULL, NULL, 0);
    CHECK(r == 0 || errno == EAGAIN || errno == EINTR);
}

static void futex_wake(atomic_uint *word, int n, int private_flag)
{
    CHECK(syscall(SYS_futex, word, FUTEX_WAKE | private_flag, n, NULL, NULL, 0) >= 0);
}

/* 0 = unlocked, 1 = locked, 2 = locked and maybe waiters. */
struct futex_mutex {
    atomic_uint state;
    int private_flag;
};

static void lock(struct futex_mutex *m)
{
    unsigned c = 0;
    if (atomic_compare_exchange_strong(&m->state, &c, 1))
        return;
    if (c != 2)
        c = atomic_exchange(&m->state, 2);
    while (c != 0) {
        futex_wait(&m->state, 2, m->private_flag);
        c = atomic_exchange(&m->state, 2);
    }
}

static void unlock(struct futex_mutex *m)
{
    if (atomic_fetch_sub(&m->state, 1) != 1) {
        atomic_store(&m->state, 0);
        futex_wake(&m->state, 1, m->private_flag);
    }
}

static struct futex_mutex mutex;
static volatile unsigned long counter; /* deliberately not atomic: the mutex guards it */

static void *incrementer(void *arg)
{
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        lock(&mutex);
        counter = counter + 1;
        unlock(&mutex);
    }
    return NULL;
}

static void mutex_round(int private_flag, const char *name)
{
    mutex.private_flag = private_flag;
    atomic_store(&mutex.state, 0);
    counter = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_PT(pthread_create(&t[i], NULL, incrementer, NULL));
    for (int i = 0; i < THREADS; i++)
        CHECK_PT(pthread_join(t[i], NULL));
    CHECK(counter == (unsigned long)THREADS * INCREMENTS);
    CHECK(atomic_load(&mutex.state) == 0);
    printf("%s futex mutex: %d threads x %d increments = %lu ok\n", name, THREADS, INCREMENTS,
           counter);
}

/* A counting semaphore on one futex word. */
static void sem_post_(atomic_uint *s)
{
    atomic_fetch_add(s, 1);
    futex_wake(s, 1, FUTEX_PRIVATE_FLAG);
}

static void sem_wait_(atomic_uint *s)
{
    for (;;) {
        unsigned v = atomic_load(s);
        if (v > 0) {
            if (atomic_compare_exchange_weak(s, &v, v - 1))
                return;
            continue;
        }
        futex_wait(s, 0, FUTEX_PRIVATE_FLAG);
    }
}

static atomic_uint ping, pong;
static long ponged;

static void *ponger(void *arg)
{
    (void)arg;
    for (int i = 0; i < PING_PONGS; i++) {
        sem_wait_(&ping);
        ponged++;
        sem_post_(&pong);
    }
    return NULL;
}

/* Sense-free barrier: the last arrival bumps the generation and wakes everyone. */
static atomic_uint arrived, generation;
static atomic_long crossings;

static void barrier_wait(void)
{
    unsigned gen = atomic_load(&generation);
    if (atomic_fetch_add(&arrived, 1) + 1 == THREADS) {
        atomic_store(&arrived, 0);
        atomic_fetch_add(&generation, 1);
        futex_wake(&generation, INT_MAX, FUTEX_PRIVATE_FLAG);
        return;
    }
    while (atomic_load(&generation) == gen)
        futex_wait(&generation, gen, FUTEX_PRIVATE_FLAG);
}

static void *barrier_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < BARRIER_ROUNDS; i++) {
        atomic_fetch_add(&crossings, 1);
        barrier_wait();
        /* Everyone has counted this round before anyone starts the next. */
        CHECK(atomic_load(&crossings) >= (long)(i + 1) * THREADS);
        barrier_wait();
    }
    return NULL;
}

int main(void)
{
    mutex_round(FUTEX_PRIVATE_FLAG, "private");
    mutex_round(0, "shared");

    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, ponger, NULL));
    long pinged = 0;
    for (int i = 0; i < PING_PONGS; i++) {
        pinged++;
        sem_post_(&ping);
        sem_wait_(&pong);
        CHECK(ponged == pinged);
    }
    CHECK_PT(pthread_join(t, NULL));
    CHECK(atomic_load(&ping) == 0 && atomic_load(&pong) == 0);
    printf("semaphore ping-pong %d rounds ok\n", PING_PONGS);

    pthread_t b[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_PT(pthread_create(&b[i], NULL, barrier_thread, NULL));
    for (int i = 0; i < THREADS; i++)
        CHECK_PT(pthread_join(b[i], NULL));
    CHECK(atomic_load(&crossings) == (long)THREADS * BARRIER_ROUNDS);
    CHECK(atomic_load(&generation) == 2 * BARRIER_ROUNDS);
    printf("futex barrier %d threads x %d rounds ok\n", THREADS, BARRIER_ROUNDS);
    printf("PASS\n");
    return 0;
}
