/* The futex syscall, raw: value mismatch, alignment, bitsets, relative and absolute
 * timeouts on both clocks, wake counts, REQUEUE, CMP_REQUEUE, WAKE_OP, WAKE_BITSET,
 * private and shared keys, and bad addresses.
 *
 * Waiters first wait on a "parking" word. The main thread moves them to the word under
 * test with CMP_REQUEUE (nr_wake 0), whose return value counts the waiters it moved, so
 * the main thread knows for certain that they sleep in the kernel before it wakes them:
 * every count printed is deterministic. */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "linux-abi.h"

static long futex(void *uaddr, int op, uint32_t val, const void *timeout_or_val2,
                  void *uaddr2, uint32_t val3)
{
    long r = syscall(SYS_futex, uaddr, op, val, timeout_or_val2, uaddr2, val3);
    return r == -1 ? -errno : r;
}

static const char *result_name(long r)
{
    switch (r) {
    case -EAGAIN: return "EAGAIN";
    case -EINVAL: return "EINVAL";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EFAULT: return "EFAULT";
    case -ENOSYS: return "ENOSYS";
    case -EINTR: return "EINTR";
    default: break;
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "%ld", r);
    return buf;
}

#define EXPECT(what, expr, want)                                                        \
    do {                                                                                \
        long got_ = (expr);                                                             \
        if (got_ != (want)) {                                                           \
            printf("FAIL %s: got %s", what, result_name(got_));                        \
            printf(", want %s\n", result_name(want));                                   \
            exit(1);                                                                    \
        }                                                                               \
        printf("%s: %s\n", what, result_name(got_));                                   \
    } while (0)

static struct timespec abs_after(clockid_t clock, long ms)
{
    struct timespec ts;
    CHECK(clock_gettime(clock, &ts) == 0);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

struct waiter {
    pthread_t thread;
    uint32_t *park;
    int private_flag;
    uint32_t bitset; /* 0: plain FUTEX_WAIT */
    long result;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    /* A generous timeout turns a lost wake-up into a failure instead of a hang. */
    if (w->bitset) {
        struct timespec deadline = abs_after(CLOCK_MONOTONIC, 10000);
        w->result = futex(w->park, FUTEX_WAIT_BITSET | w->private_flag, 0, &deadline, NULL,
                          w->bitset);
    } else {
        struct timespec timeout = {10, 0};
        w->result = futex(w->park, FUTEX_WAIT | w->private_flag, 0, &timeout, NULL, 0);
    }
    return NULL;
}

static void start_waiter(struct waiter *w, uint32_t *park, int private_flag, uint32_t bitset)
{
    w->park = park;
    w->private_flag = private_flag;
    w->bitset = bitset;
    w->result = 1;
    CHECK_PT(pthread_create(&w->thread, NULL, waiter_main, w));
}

static void join_woken(struct waiter *w)
{
    CHECK_PT(pthread_join(w->thread, NULL));
    CHECK(w->result == 0);
}

/* Moves exactly n waiters from park (value 0) to target, waiting for late arrivals. */
static void move_waiters(uint32_t *park, uint32_t *target, long n, int private_flag)
{
    long moved = 0;
    for (int tries = 0; moved < n; tries++) {
        long r = futex(park, FUTEX_CMP_REQUEUE | private_flag, 0, (void *)(uintptr_t)INT_MAX,
                       target, 0);
        CHECK(r >= 0);
        moved += r;
        CHECK(moved <= n && tries < 10000);
        if (moved < n) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
}

static uint32_t park_word, word, word2;

static void errors(void)
{
    word = 1;
    EXPECT("FUTEX_WAIT value mismatch", futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), -EAGAIN);
    EXPECT("FUTEX_WAIT_PRIVATE value mismatch",
           futex(&word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0), -EAGAIN);
    EXPECT("FUTEX_WAIT misaligned",
           futex((char *)&word + 1, FUTEX_WAIT, 1, NULL, NULL, 0), -EINVAL);
    EXPECT("FUTEX_WAKE misaligned",
           futex((char *)&word + 2, FUTEX_WAKE, 1, NULL, NULL, 0), -EINVAL);
    EXPECT("FUTEX_WAIT_BITSET zero bitset",
           futex(&word, FUTEX_WAIT_BITSET, 1, NULL, NULL, 0), -EINVAL);
    EXPECT("FUTEX_WAKE_BITSET zero bitset",
           futex(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0), -EINVAL);
    struct timespec bad = {0, 1000000000L};
    EXPECT("FUTEX_WAIT tv_nsec 1e9", futex(&word, FUTEX_WAIT, 1, &bad, NULL, 0), -EINVAL);
    struct timespec negative = {-1, 0};
    EXPECT("FUTEX_WAIT negative tv_sec",
           futex(&word, FUTEX_WAIT, 1, &negative, NULL, 0), -EINVAL);
    EXPECT("CMP_REQUEUE value mismatch",
           futex(&word, FUTEX_CMP_REQUEUE, 1, (void *)1, &word2, 0), -EAGAIN);
    EXPECT("unknown futex op 99", futex(&word, 99, 0, NULL, NULL, 0), -ENOSYS);

    uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    CHECK(page != MAP_FAILED);
    CHECK(munmap(page, 4096) == 0);
    EXPECT("FUTEX_WAIT unmapped address", futex(page, FUTEX_WAIT, 0, NULL, NULL, 0), -EFAULT);
    EXPECT("FUTEX_WAIT_PRIVATE unmapped address",
           futex(page, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0), -EFAULT);
    EXPECT("FUTEX_WAIT NULL", futex(NULL, FUTEX_WAIT, 0, NULL, NULL, 0), -EFAULT);
}

static void timeouts(void)
{
    word = 0;
    long long start = now_ns(CLOCK_MONOTONIC);
    struct timespec rel = {0, 20000000L};
    EXPECT("FUTEX_WAIT relative 20 ms", futex(&word, FUTEX_WAIT, 0, &rel, NULL, 0),
           -ETIMEDOUT);
    CHECK(now_ns(CLOCK_MONOTONIC) - start >= 20000000LL);

    struct timespec mono = abs_after(CLOCK_MONOTONIC, 20);
    EXPECT("FUTEX_WAIT_BITSET absolute CLOCK_MONOTONIC",
           futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, &mono, NULL,
                 FUTEX_BITSET_MATCH_ANY),
           -ETIMEDOUT);
    long long now = now_ns(CLOCK_MONOTONIC);
    CHECK(now >= (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec);

    struct timespec real = abs_after(CLOCK_REALTIME, 20);
    EXPECT("FUTEX_WAIT_BITSET absolute CLOCK_REALTIME",
           futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &real, NULL,
                 FUTEX_BITSET_MATCH_ANY),
           -ETIMEDOUT);
    now = now_ns(CLOCK_REALTIME);
    CHECK(now >= (long long)real.tv_sec * 1000000000LL + real.tv_nsec);

    struct timespec past = {1, 0};
    EXPECT("FUTEX_WAIT_BITSET deadline in the past",
           futex(&word, FUTEX_WAIT_BITSET, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY),
           -ETIMEDOUT);
    struct timespec zero = {0, 0};
    EXPECT("FUTEX_WAIT zero timeout", futex(&word, FUTEX_WAIT, 0, &zero, NULL, 0),
           -ETIMEDOUT);
}

static void wake_counts(void)
{
    const int p = FUTEX_PRIVATE_FLAG;
    struct waiter w[4];
    word = 0;
    EXPECT("FUTEX_WAKE with no waiters", futex(&word, FUTEX_WAKE | p, 1, NULL, NULL, 0), 0);
    for (int i = 0; i < 4; i++)
        start_waiter(&w[i], &park_word, p, 0);
    move_waiters(&park_word, &word, 4, p);
    printf("4 waiters queued\n");
    EXPECT("FUTEX_WAKE 1 of 4", futex(&word, FUTEX_WAKE | p, 1, NULL, NULL, 0), 1);
    EXPECT("FUTEX_WAKE 2 of 3", futex(&word, FUTEX_WAKE | p, 2, NULL, NULL, 0), 2);
    EXPECT("FUTEX_WAKE 5 of 1", futex(&word, FUTEX_WAKE | p, 5, NULL, NULL, 0), 1);
    EXPECT("FUTEX_WAKE 1 of 0", futex(&word, FUTEX_WAKE | p, 1, NULL, NULL, 0), 0);
    for (int i = 0; i < 4; i++)
        join_woken(&w[i]);

    /* REQUEUE: wake 1, move up to 2 to word2; the return value counts both. */
    for (int i = 0; i < 4; i++)
        start_waiter(&w[i], &park_word, p, 0);
    move_waiters(&park_word, &word, 4, p);
    EXPECT("FUTEX_REQUEUE wake 1 requeue 2",
           futex(&word, FUTEX_REQUEUE | p, 1, (void *)2, &word2, 0), 3);
    EXPECT("FUTEX_WAKE left on the first word", futex(&word, FUTEX_WAKE | p, 10, NULL, NULL, 0),
           1);
    word2 = 0;
    EXPECT("FUTEX_CMP_REQUEUE back, wake 0",
           futex(&word2, FUTEX_CMP_REQUEUE | p, 0, (void *)10, &word, 0), 2);
    EXPECT("FUTEX_WAKE requeued waiters", futex(&word, FUTEX_WAKE | p, 10, NULL, NULL, 0), 2);
    for (int i = 0; i < 4; i++)
        join_woken(&w[i]);

    /* WAKE_OP: *word2 += 5, wake 1 on word, and 1 on word2 if the old value was 0. */
    word2 = 0;
    start_waiter(&w[0], &park_word, p, 0);
    move_waiters(&park_word, &word, 1, p);
    start_waiter(&w[1], &park_word, p, 0);
    move_waiters(&park_word, &word2, 1, p);
    EXPECT("FUTEX_WAKE_OP add 5, old == 0",
           futex(&word, FUTEX_WAKE_OP | p, 1, (void *)1, &word2,
                 FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0)),
           2);
    CHECK(word2 == 5);
    start_waiter(&w[2], &park_word, p, 0);
    move_waiters(&park_word, &word, 1, p);
    start_waiter(&w[3], &park_word, p, 0);
    move_waiters(&park_word, &word2, 1, p);
    EXPECT("FUTEX_WAKE_OP add 1, old != 0",
           futex(&word, FUTEX_WAKE_OP | p, 1, (void *)1, &word2,
                 FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0)),
           1);
    CHECK(word2 == 6);
    EXPECT("FUTEX_WAKE_OP left one waiter", futex(&word2, FUTEX_WAKE | p, 1, NULL, NULL, 0), 1);
    for (int i = 0; i < 4; i++)
        join_woken(&w[i]);
    printf("FUTEX_WAKE_OP word2 value ok\n");

    /* WAKE_BITSET wakes only waiters whose bitset intersects. */
    start_waiter(&w[0], &park_word, p, 0x1);
    start_waiter(&w[1], &park_word, p, 0x6);
    move_waiters(&park_word, &word, 2, p);
    EXPECT("FUTEX_WAKE_BITSET 0x8", futex(&word, FUTEX_WAKE_BITSET | p, 10, NULL, NULL, 0x8), 0);
    EXPECT("FUTEX_WAKE_BITSET 0x4", futex(&word, FUTEX_WAKE_BITSET | p, 10, NULL, NULL, 0x4), 1);
    join_woken(&w[1]);
    EXPECT("FUTEX_WAKE (all bits)", futex(&word, FUTEX_WAKE | p, 10, NULL, NULL, 0), 1);
    join_woken(&w[0]);
}

static void private_and_shared(void)
{
    struct waiter w;
    word = 0;
    start_waiter(&w, &park_word, 0, 0);
    move_waiters(&park_word, &word, 1, 0);
    EXPECT("FUTEX_WAKE_PRIVATE on a shared waiter",
           futex(&word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0), 0);
    EXPECT("FUTEX_WAKE on a shared waiter", futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 1);
    join_woken(&w);

    start_waiter(&w, &park_word, FUTEX_PRIVATE_FLAG, 0);
    move_waiters(&park_word, &word, 1, FUTEX_PRIVATE_FLAG);
    EXPECT("FUTEX_WAKE on a private waiter", futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
    EXPECT("FUTEX_WAKE_PRIVATE on a private waiter",
           futex(&word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0), 1);
    join_woken(&w);
}

int main(void)
{
    errors();
    timeouts();
    wake_counts();
    private_and_shared();
    printf("PASS\n");
    return 0;
}
