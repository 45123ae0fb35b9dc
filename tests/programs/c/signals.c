// Signal delivery: handlers with siginfo, faults caught and recovered with siglongjmp,
// blocked and pending signals, SA_RESETHAND, SA_ONSTACK on sigaltstack, interrupted
// sleeps (EINTR), kill vs pthread_kill, sigsuspend, sigtimedwait, FPU state kept across
// a handler, pthread_cancel (which both libcs implement with a signal).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, what)                                        \
    do {                                                         \
        if (!(cond)) {                                           \
            printf("FAIL: %s (line %d)\n", what, __LINE__);      \
            exit(1);                                             \
        }                                                        \
    } while (0)

static volatile sig_atomic_t got_sig, got_code, hits;
static volatile uintptr_t got_addr, handler_sp;
static sigjmp_buf jump;

static void on_usr(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    hits++;
    int local;
    handler_sp = (uintptr_t)&local;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    siglongjmp(jump, 1);
}

static void on_fpu(int sig) {
    (void)sig;
    volatile double x = 1.0;
    for (int i = 0; i < 100; i++) x = x * 3.5 + 0.25;
    hits++;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, 0) == 0, "sigaction");
}

static void *sleeper(void *arg) {
    (void)arg;
    struct timespec ts = {5, 0}, rem;
    int r = nanosleep(&ts, &rem);
    return (void *)(intptr_t)(r == -1 && errno == EINTR && rem.tv_sec < 5 ? 1 : 0);
}

static pthread_t main_thread;
static void *poke_main(void *arg) {
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, 0);
    pthread_kill(main_thread, SIGUSR1);
    return 0;
}

static int rp[2];
static pthread_t reader_thread;
static void *poke_reader(void *arg) {
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, 0);
    pthread_kill(reader_thread, SIGUSR2);
    nanosleep(&ts, 0);
    if (arg) write(rp[1], "z", 1);
    return 0;
}

static void *cancellable(void *arg) {
    (void)arg;
    for (;;) pause();
    return 0;
}

int main(void) {
    // 1. A handler with siginfo, from raise (tgkill: SI_TKILL) and kill (SI_USER).
    install(SIGUSR1, on_usr, 0);
    raise(SIGUSR1);
    CHECK(got_sig == SIGUSR1 && got_code == SI_TKILL && hits == 1, "raise runs the handler");
    kill(getpid(), SIGUSR1);
    CHECK(hits == 2 && got_code == SI_USER, "kill runs the handler");
    printf("handler with siginfo ok\n");

    // 2. A fault caught by a handler and recovered with siglongjmp.
    install(SIGSEGV, on_segv, SA_NODEFER);
    if (sigsetjmp(jump, 1) == 0) {
        volatile int *p = (int *)0x10;
        (void)*p;
        CHECK(0, "the NULL read faults");
    }
    CHECK(got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == 0x10, "SIGSEGV siginfo");
    printf("SIGSEGV caught with si_addr ok\n");

    // 3. Blocked signals stay pending until unblocked.
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    hits = 0;
    raise(SIGUSR1);
    CHECK(hits == 0, "a blocked signal is not delivered");
    sigset_t pend;
    sigpending(&pend);
    CHECK(sigismember(&pend, SIGUSR1), "sigpending shows it");
    sigprocmask(SIG_SETMASK, &old, 0);
    CHECK(hits == 1, "unblocking delivers it");
    printf("blocked and pending ok\n");

    // 4. SA_RESETHAND: the handler runs once and the default comes back.
    install(SIGUSR2, on_usr, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, 0, &now);
    CHECK(now.sa_handler == SIG_DFL, "SA_RESETHAND resets the action");
    printf("SA_RESETHAND ok\n");

    // 5. SA_ONSTACK runs the handler on the alternate stack.
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK(sigaltstack(&ss, 0) == 0, "sigaltstack");
    install(SIGUSR2, on_usr, SA_ONSTACK);
    raise(SIGUSR2);
    CHECK(handler_sp >= (uintptr_t)altstack && handler_sp < (uintptr_t)altstack + sizeof altstack,
          "the handler runs on the alternate stack");
    stack_t cur;
    sigaltstack(0, &cur);
    CHECK(cur.ss_sp == altstack && !(cur.ss_flags & SS_ONSTACK), "sigaltstack reports it");
    printf("SA_ONSTACK ok\n");

    // 6. A signal interrupts a sleeping thread: EINTR with the time left.
    pthread_t t;
    pthread_create(&t, 0, sleeper, 0);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, 0);
    pthread_kill(t, SIGUSR1);
    void *ok;
    pthread_join(t, &ok);
    CHECK(ok == (void *)1, "nanosleep returns EINTR with the time left");
    printf("EINTR from nanosleep ok\n");

    // 7. sigsuspend waits with a temporary mask and restores the old one.
    sigprocmask(SIG_BLOCK, &set, &old);
    main_thread = pthread_self();
    hits = 0;
    pthread_create(&t, 0, poke_main, 0);
    sigset_t empty;
    sigemptyset(&empty);
    int r = sigsuspend(&empty);
    CHECK(r == -1 && errno == EINTR && hits == 1, "sigsuspend returns after the handler");
    sigset_t after;
    sigprocmask(SIG_SETMASK, 0, &after);
    CHECK(sigismember(&after, SIGUSR1), "sigsuspend restores the mask");
    pthread_join(t, 0);
    printf("sigsuspend ok\n");

    // 8. sigtimedwait takes a blocked signal without running the handler.
    hits = 0;
    raise(SIGUSR1);
    siginfo_t si;
    struct timespec zero = {1, 0};
    CHECK(sigtimedwait(&set, &si, &zero) == SIGUSR1 && hits == 0, "sigtimedwait");
    struct timespec tiny = {0, 10 * 1000 * 1000};
    CHECK(sigtimedwait(&set, &si, &tiny) == -1 && errno == EAGAIN, "sigtimedwait times out");
    sigprocmask(SIG_SETMASK, &old, 0);
    printf("sigtimedwait ok\n");

    // 9. Floating-point state survives a handler that computes.
    signal(SIGUSR2, on_fpu);
    volatile double a = 1.0 / 3.0, b = 2.0 / 7.0;
    double before = a * b;
    raise(SIGUSR2);
    CHECK(a * b == before && a == 1.0 / 3.0, "FPU state across a handler");
    printf("FPU state kept ok\n");

    // 10. pthread_cancel (a signal in both libcs) ends a thread blocked in pause().
    pthread_create(&t, 0, cancellable, 0);
    nanosleep(&ts, 0);
    CHECK(pthread_cancel(t) == 0, "pthread_cancel");
    pthread_join(t, &ok);
    CHECK(ok == PTHREAD_CANCELED, "the thread was cancelled");
    printf("pthread_cancel ok\n");

    // 11. A blocking read interrupted by a handler: EINTR without SA_RESTART, restarted
    //     (and the data read) with it.
    CHECK(pipe(rp) == 0, "pipe");
    reader_thread = pthread_self();
    for (int restart = 0; restart < 2; restart++) {
        install(SIGUSR2, on_usr, restart ? SA_RESTART : 0);
        pthread_create(&t, 0, poke_reader, (void *)(long)restart);
        char c;
        ssize_t got = read(rp[0], &c, 1);
        if (restart)
            CHECK(got == 1 && c == 'z', "SA_RESTART restarts the read");
        else
            CHECK(got == -1 && errno == EINTR, "no SA_RESTART: EINTR");
        pthread_join(t, 0);
    }
    printf("SA_RESTART ok\n");

    // 12. SIG_IGN drops a signal; signal 0 checks only.
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    CHECK(kill(getpid(), 0) == 0, "kill with signal 0");
    CHECK(kill(getpid(), 65) == -1 && errno == EINVAL, "kill with signal 65 is EINVAL");
    printf("SIG_IGN and signal 0 ok\n");
    return 0;
}
