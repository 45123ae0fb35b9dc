// ITIMER_REAL and alarm(2): SIGALRM after the time set, periodic reloads, the time left
// reported by alarm/getitimer; times(2) and getrusage(2) answer sanely.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, what)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            printf("FAIL: %s (line %d)\n", what, __LINE__); \
            exit(1);                                        \
        }                                                   \
    } while (0)

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

int main(void) {
    signal(SIGALRM, on_alarm);

    // A one-shot timer: pause() returns after the handler, no earlier than 50 ms.
    struct itimerval it = {{0, 0}, {0, 50000}};
    long long start = now_ms();
    CHECK(setitimer(ITIMER_REAL, &it, 0) == 0, "setitimer");
    CHECK(pause() == -1 && errno == EINTR, "pause returns EINTR");
    CHECK(alarms == 1 && now_ms() - start >= 50, "SIGALRM after 50 ms");
    printf("one-shot ITIMER_REAL ok\n");

    // A periodic timer fires again and again until disarmed.
    struct itimerval every = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &every, 0);
    while (alarms < 4) pause();
    struct itimerval cur;
    CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_interval.tv_usec == 20000, "getitimer");
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, 0);
    printf("periodic ITIMER_REAL ok\n");

    // alarm() reports the seconds left of the previous alarm and cancels with 0.
    CHECK(alarm(100) == 0, "no alarm pending");
    unsigned left = alarm(0);
    CHECK(left == 100 || left == 99, "alarm(0) returns the time left");
    printf("alarm ok\n");

    // A bad timer kind and a bad timeval.
    CHECK(setitimer(99, &it, 0) == -1 && errno == EINVAL, "setitimer(99)");
    struct itimerval bad = {{0, 0}, {0, 2000000}};
    CHECK(setitimer(ITIMER_REAL, &bad, 0) == -1 && errno == EINVAL, "tv_usec >= 1e6");
    printf("setitimer errors ok\n");

    struct tms t;
    CHECK(times(&t) != (clock_t)-1, "times");
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage(RUSAGE_SELF)");
    CHECK(getrusage(42, &ru) == -1 && errno == EINVAL, "getrusage(42)");
    printf("times and getrusage ok\n");
    return 0;
}
