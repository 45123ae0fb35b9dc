/* Producer/consumer through an 8-slot ring guarded by one mutex and two condition
 * variables: 2 producers and 2 consumers hand over 100000 items. Every item must arrive
 * exactly once: the consumers' sums and counts must equal the producers'. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define SLOTS 8
#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 100000 /* in total */
#define DONE UINT64_MAX

static uint64_t ring[SLOTS];
static unsigned head, tail, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

static void put(uint64_t v)
{
    CHECK_PT(pthread_mutex_lock(&lock));
    while (count == SLOTS)
        CHECK_PT(pthread_cond_wait(&not_full, &lock));
    ring[tail] = v;
    tail = (tail + 1) % SLOTS;
    count++;
    CHECK_PT(pthread_cond_signal(&not_empty));
    CHECK_PT(pthread_mutex_unlock(&lock));
}

static uint64_t take(void)
{
    CHECK_PT(pthread_mutex_lock(&lock));
    while (count == 0)
        CHECK_PT(pthread_cond_wait(&not_empty, &lock));
    uint64_t v = ring[head];
    head = (head + 1) % SLOTS;
    count--;
    CHECK_PT(pthread_cond_signal(&not_full));
    CHECK_PT(pthread_mutex_unlock(&lock));
    return v;
}

struct tally {
    uint64_t count, sum, xor;
};

static void *producer(void *arg)
{
    uint64_t id = (uintptr_t)arg;
    struct tally *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    for (uint64_t i = 0; i < ITEMS / PRODUCERS; i++) {
        uint64_t v = id * 1000000 + i * 2654435761u % 1000003;
        put(v);
        t->count++;
        t->sum += v;
        t->xor ^= v * 0x9e3779b97f4a7c15ULL;
    }
    return t;
}

static void *consumer(void *arg)
{
    (void)arg;
    struct tally *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    for (;;) {
        uint64_t v = take();
        if (v == DONE)
            break;
        t->count++;
        t->sum += v;
        t->xor ^= v * 0x9e3779b97f4a7c15ULL;
    }
    return t;
}

int main(void)
{
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    for (uintptr_t i = 0; i < CONSUMERS; i++)
        CHECK_PT(pthread_create(&cons[i], NULL, consumer, NULL));
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        CHECK_PT(pthread_create(&prod[i], NULL, producer, (void *)(i + 1)));

    struct tally produced = {0, 0, 0}, consumed = {0, 0, 0};
    for (int i = 0; i < PRODUCERS; i++) {
        struct tally *t;
        CHECK_PT(pthread_join(prod[i], (void **)&t));
        produced.count += t->count;
        produced.sum += t->sum;
        produced.xor ^= t->xor;
        free(t);
    }
    for (int i = 0; i < CONSUMERS; i++)
        put(DONE);
    for (int i = 0; i < CONSUMERS; i++) {
        struct tally *t;
        CHECK_PT(pthread_join(cons[i], (void **)&t));
        consumed.count += t->count;
        consumed.sum += t->sum;
        consumed.xor ^= t->xor;
        free(t);
    }
    printf("produced %llu items\n", (unsigned long long)produced.count);
    printf("consumed %llu items\n", (unsigned long long)consumed.count);
    CHECK(produced.count == ITEMS && consumed.count == ITEMS);
    CHECK(produced.sum == consumed.sum);
    CHECK(produced.xor == consumed.xor);
    printf("checksums match\n");
    CHECK(count == 0);
    printf("PASS\n");
    return 0;
}
