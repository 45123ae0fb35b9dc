/* Thread-local storage (x86_64 TLS variant II, reached through %fs): initialised .tdata
 * and zeroed .tbss variables, including 64-byte aligned ones, checked in the main thread
 * and in 8 threads for their initial values, their alignment and their distinctness. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define THREADS 8

static __thread int t_int = 7;
static __thread long t_long = -1234567890123L;
static __thread char t_str[32] = "thread-local";
static __thread _Alignas(64) unsigned char t_aligned_data[64] = {1, 2, 3};
static __thread _Alignas(64) unsigned char t_aligned_bss[128];
static __thread long t_bss_long;

static uintptr_t addresses[THREADS + 1][3];
static pthread_barrier_t all_set;

static void check_initial(void)
{
    CHECK(t_int == 7);
    CHECK(t_long == -1234567890123L);
    CHECK(strcmp(t_str, "thread-local") == 0);
    CHECK(t_aligned_data[0] == 1 && t_aligned_data[1] == 2 && t_aligned_data[2] == 3);
    for (int i = 3; i < 64; i++)
        CHECK(t_aligned_data[i] == 0);
    for (int i = 0; i < 128; i++)
        CHECK(t_aligned_bss[i] == 0);
    CHECK(t_bss_long == 0);
    CHECK((uintptr_t)t_aligned_data % 64 == 0);
    CHECK((uintptr_t)t_aligned_bss % 64 == 0);
}

static void use(int id)
{
    check_initial();
    t_int = id;
    t_long = id * 1000L;
    snprintf(t_str, sizeof t_str, "thread %d", id);
    memset(t_aligned_data, id, sizeof t_aligned_data);
    memset(t_aligned_bss, id + 100, sizeof t_aligned_bss);
    t_bss_long = id;
    addresses[id][0] = (uintptr_t)&t_int;
    addresses[id][1] = (uintptr_t)t_aligned_data;
    addresses[id][2] = (uintptr_t)t_aligned_bss;
    /* Everyone writes before anyone re-reads, so a shared copy would be caught. */
    int rc = pthread_barrier_wait(&all_set);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD);
    char want[32];
    snprintf(want, sizeof want, "thread %d", id);
    CHECK(t_int == id && t_long == id * 1000L && strcmp(t_str, want) == 0);
    for (int i = 0; i < 64; i++)
        CHECK(t_aligned_data[i] == (unsigned char)id);
    for (int i = 0; i < 128; i++)
        CHECK(t_aligned_bss[i] == (unsigned char)(id + 100));
    CHECK(t_bss_long == id);
}

static void *worker(void *arg)
{
    use((int)(intptr_t)arg);
    return NULL;
}

int main(void)
{
    check_initial();
    printf("main thread initial values and alignment ok\n");

    CHECK_PT(pthread_barrier_init(&all_set, NULL, THREADS + 1));
    pthread_t threads[THREADS];
    for (intptr_t i = 1; i <= THREADS; i++)
        CHECK_PT(pthread_create(&threads[i - 1], NULL, worker, (void *)i));
    use(0);
    for (int i = 0; i < THREADS; i++)
        CHECK_PT(pthread_join(threads[i], NULL));
    printf("%d threads initial values and alignment ok\n", THREADS);

    for (int i = 0; i <= THREADS; i++)
        for (int j = i + 1; j <= THREADS; j++)
            for (int k = 0; k < 3; k++)
                CHECK(addresses[i][k] != addresses[j][k]);
    printf("distinct copies per thread ok\n");

    CHECK(t_int == 0 && strcmp(t_str, "thread 0") == 0);
    printf("main thread values kept ok\n");
    CHECK_PT(pthread_barrier_destroy(&all_set));
    printf("PASS\n");
    return 0;
}
