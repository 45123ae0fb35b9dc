/* Shared helpers for the Spindle benchmarks. Each benchmark runs a fixed number of
 * iterations (argv[1] overrides it) so Spindle and Linux do the same work, and prints one
 * machine-readable line per figure: "bench NAME VALUE UNIT". */
#ifndef SPINDLE_BENCH_H
#define SPINDLE_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline long long bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline long bench_iterations(int argc, char **argv, long fallback)
{
    if (argc > 1) {
        long n = atol(argv[1]);
        if (n > 0)
            return n;
    }
    return fallback;
}

static inline void bench_report(const char *name, long long elapsed_ns, long ops)
{
    printf("bench %s %.1f ns/op\n", name, (double)elapsed_ns / (double)ops);
}

#define BENCH_CHECK(cond)                                                         \
    do {                                                                          \
        if (!(cond)) {                                                            \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#endif
