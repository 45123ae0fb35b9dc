/* Robust mutexes (PTHREAD_MUTEX_ROBUST) whose owner thread ends while holding them.
 * Case 1: the main thread locks after the owner is gone. Case 2: the main thread is
 * already blocked in pthread_mutex_lock when the owner ends, so only the exit-time
 * robust-list walk (FUTEX_OWNER_DIED and a wake-up) can release it. Both get EOWNERDEAD
 * and repair the mutex with pthread_mutex_consistent. Case 3: unlocking without repair
 * leaves the mutex ENOTRECOVERABLE. */
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "check.h"

static pthread_mutex_t mutex;
static sem_t owner_has_lock;
static int protected_value;

static void init_robust(void)
{
    pthread_mutexattr_t attr;
    CHECK_PT(pthread_mutexattr_init(&attr));
    CHECK_PT(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST));
    CHECK_PT(pthread_mutex_init(&mutex, &attr));
    CHECK_PT(pthread_mutexattr_destroy(&attr));
}

static void *owner(void *arg)
{
    long linger_ms = (long)arg;
    CHECK_PT(pthread_mutex_lock(&mutex));
    protected_value = 42;
    CHECK(sem_post(&owner_has_lock) == 0);
    if (linger_ms) {
        /* Give the main thread time to block in pthread_mutex_lock. */
        struct timespec ts = {0, linger_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL; /* ends while still holding the mutex */
}

static void start_owner(pthread_t *t, long linger_ms)
{
    CHECK_PT(pthread_create(t, NULL, owner, (void *)linger_ms));
    while (sem_wait(&owner_has_lock) != 0)
        CHECK(errno == EINTR);
}

static void repair_and_reuse(int rc)
{
    CHECK(rc == EOWNERDEAD);
    CHECK(protected_value == 42);
    CHECK_PT(pthread_mutex_consistent(&mutex));
    protected_value = 0;
    CHECK_PT(pthread_mutex_unlock(&mutex));
    CHECK_PT(pthread_mutex_lock(&mutex));
    CHECK_PT(pthread_mutex_unlock(&mutex));
}

int main(void)
{
    CHECK(sem_init(&owner_has_lock, 0, 0) == 0);
    pthread_t t;

    init_robust();
    start_owner(&t, 0);
    CHECK_PT(pthread_join(t, NULL));
    repair_and_reuse(pthread_mutex_lock(&mutex));
    printf("case 1: lock after owner died: EOWNERDEAD, consistent ok\n");

    start_owner(&t, 50);
    repair_and_reuse(pthread_mutex_lock(&mutex));
    CHECK_PT(pthread_join(t, NULL));
    printf("case 2: blocked waiter woken by owner death: EOWNERDEAD, consistent ok\n");

    start_owner(&t, 0);
    CHECK_PT(pthread_join(t, NULL));
    CHECK(pthread_mutex_trylock(&mutex) == EOWNERDEAD);
    CHECK_PT(pthread_mutex_unlock(&mutex));
    CHECK(pthread_mutex_lock(&mutex) == ENOTRECOVERABLE);
    printf("case 3: unlock without consistent: ENOTRECOVERABLE ok\n");

    printf("PASS\n");
    return 0;
}
