/* Thread creation and exit from several CPUs at once: 4 spawner threads each run rounds
 * of creating 3 children that each create and join a grandchild, then join the
 * children; then each spawner starts detached threads that report through a semaphore.
 * Every thread that ran is counted; the totals must be exact. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define SPAWNERS 4
#define ROUNDS 60
#define CHILDREN 3
#define DETACHED 50

static atomic_long children_ran, grandchildren_ran, detached_ran;
static sem_t detached_done;

static void *grandchild(void *arg)
{
    atomic_fetch_add(&grandchildren_ran, 1);
    return arg;
}

static void *child(void *arg)
{
    atomic_fetch_add(&children_ran, 1);
    pthread_t g;
    CHECK_PT(pthread_create(&g, NULL, grandchild, arg));
    void *ret;
    CHECK_PT(pthread_join(g, &ret));
    CHECK(ret == arg);
    return (void *)((uintptr_t)arg + 1);
}

static void *detached(void *arg)
{
    (void)arg;
    atomic_fetch_add(&detached_ran, 1);
    CHECK(sem_post(&detached_done) == 0);
    return NULL;
}

static void *spawner(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t c[CHILDREN];
        for (uintptr_t i = 0; i < CHILDREN; i++)
            CHECK_PT(pthread_create(&c[i], NULL, child, (void *)(id * 1000 + i * 10)));
        for (uintptr_t i = 0; i < CHILDREN; i++) {
            void *ret;
            CHECK_PT(pthread_join(c[i], &ret));
            CHECK(ret == (void *)(id * 1000 + i * 10 + 1));
        }
    }
    pthread_attr_t attr;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
    for (int i = 0; i < DETACHED; i++) {
        pthread_t d;
        CHECK_PT(pthread_create(&d, &attr, detached, NULL));
    }
    CHECK_PT(pthread_attr_destroy(&attr));
    return NULL;
}

int main(void)
{
    CHECK(sem_init(&detached_done, 0, 0) == 0);
    pthread_t s[SPAWNERS];
    for (uintptr_t i = 0; i < SPAWNERS; i++)
        CHECK_PT(pthread_create(&s[i], NULL, spawner, (void *)(i + 1)));
    for (int i = 0; i < SPAWNERS; i++)
        CHECK_PT(pthread_join(s[i], NULL));
    for (int i = 0; i < SPAWNERS * DETACHED; i++)
        while (sem_wait(&detached_done) != 0)
            CHECK(errno == EINTR);

    long want = (long)SPAWNERS * ROUNDS * CHILDREN;
    CHECK(atomic_load(&children_ran) == want);
    CHECK(atomic_load(&grandchildren_ran) == want);
    CHECK(atomic_load(&detached_ran) == SPAWNERS * DETACHED);
    printf("children %ld ok\n", want);
    printf("grandchildren %ld ok\n", want);
    printf("detached %d ok\n", SPAWNERS * DETACHED);
    printf("PASS\n");
    return 0;
}
