/* Shared helpers for the Spindle test programs.
 *
 * Every program checks itself: CHECK prints the failed condition with its line and ends
 * the program with status 1, so a failure is visible both in the output and in the exit
 * status. Output is deterministic: no addresses, times or thread ids are printed. */
#ifndef SPINDLE_CHECK_H
#define SPINDLE_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            printf("FAIL %s:%d: %s (errno %d %s)\n", __FILE__, __LINE__, #cond,  \
                   errno, strerror(errno));                                      \
            fflush(stdout);                                                      \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* A libc call that reports failure through a -1 return and errno. */
#define CHECK_ERRNO(expr, want)                                                  \
    do {                                                                         \
        errno = 0;                                                               \
        long check_ret_ = (long)(expr);                                          \
        if (check_ret_ != -1 || errno != (want)) {                               \
            printf("FAIL %s:%d: %s returned %ld errno %d, want -1 errno %d\n",   \
                   __FILE__, __LINE__, #expr, check_ret_, errno, (want));        \
            fflush(stdout);                                                      \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* A pthread-style call that returns 0 or an error number. */
#define CHECK_PT(expr)                                                           \
    do {                                                                         \
        int check_rc_ = (expr);                                                  \
        if (check_rc_ != 0) {                                                    \
            printf("FAIL %s:%d: %s returned %d %s\n", __FILE__, __LINE__, #expr,  \
                   check_rc_, strerror(check_rc_));                              \
            fflush(stdout);                                                      \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static inline long long now_ns(clockid_t clock)
{
    struct timespec ts;
    CHECK(clock_gettime(clock, &ts) == 0);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
