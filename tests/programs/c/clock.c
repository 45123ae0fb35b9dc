/* Time as programs read it: CLOCK_MONOTONIC never goes back, CLOCK_REALTIME is a real
 * date, gettimeofday and time agree with CLOCK_REALTIME, clock_getres reports a fine
 * resolution, and nanosleep sleeps at least as long as asked. */
#include <sys/time.h>
#include <time.h>

#include "check.h"

/* 2020-01-01T00:00:00Z */
#define YEAR_2020 1577836800LL

int main(void)
{
    long long prev = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 20000; i++) {
        long long t = now_ns(CLOCK_MONOTONIC);
        CHECK(t >= prev);
        prev = t;
    }
    struct timespec ts;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    printf("CLOCK_MONOTONIC non-decreasing ok\n");

    CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    CHECK(ts.tv_sec > YEAR_2020);
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    printf("CLOCK_REALTIME after 2020 ok\n");

    /* gettimeofday and time read the same clock as CLOCK_REALTIME. */
    long long before = now_ns(CLOCK_REALTIME);
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0);
    time_t seconds = time(NULL);
    long long after = now_ns(CLOCK_REALTIME);
    long long tv_ns = (long long)tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
    CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    CHECK(tv_ns >= before / 1000 * 1000 && tv_ns <= after);
    CHECK(seconds >= before / 1000000000LL && seconds <= after / 1000000000LL);
    printf("gettimeofday and time consistent ok\n");

    struct timespec res;
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0);
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000L);
    CHECK(clock_getres(CLOCK_REALTIME, &res) == 0);
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000L);
    printf("clock_getres ok\n");

    struct timespec bad = {0, 1000000000L};
    CHECK_ERRNO(nanosleep(&bad, NULL), EINVAL);
    long long start = now_ns(CLOCK_MONOTONIC);
    struct timespec ten_ms = {0, 10000000L};
    CHECK(nanosleep(&ten_ms, NULL) == 0);
    long long slept = now_ns(CLOCK_MONOTONIC) - start;
    CHECK(slept >= 10000000LL);
    printf("nanosleep 10 ms ok\n");

    printf("PASS\n");
    return 0;
}
