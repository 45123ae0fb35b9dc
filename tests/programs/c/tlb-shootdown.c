// TLB shootdown check: workers pinned to CPUs 1..n-1 (CPU 0 on one CPU) keep reading a
// region that the main thread alternately maps (fresh anonymous pages with a new
// generation number) and unmaps, or replaces with MAP_FIXED. A worker that kept a stale
// translation of a remapped page would read the old frame and never acknowledge the new
// generation. 64 pages take the full-flush path, 4 the per-page invlpg path.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAXW 8
static long npages;
static char *region[2];
static _Atomic(char *) cur;
static _Atomic long gen;
static _Atomic long ack[MAXW];
static int nworkers;
static int ncpu;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
    long i = (long)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((i + 1) % ncpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) perror("setaffinity");
    long k = 0;
    for (;;) {
        long g = atomic_load(&gen);
        if (g < 0) break;
        char *c = atomic_load(&cur);
        int all = 1;
        // touch every page (fills the TLB with all of them)
        for (long p = 0; p < npages; p++)
            if (*(volatile long *)(c + p * 4096) != g) all = 0;
        if (all) atomic_store(&ack[i], g);
        k++;
    }
    return 0;
}

static void map_at(char *addr, long g) {
    char *p = mmap(addr, npages * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != addr) { perror("mmap fixed"); exit(2); }
    for (long q = 0; q < npages; q++) *(long *)(p + q * 4096) = g;
}

static int run(long pages, long iters, int mode_fixed) {
    npages = pages;
    for (int i = 0; i < MAXW; i++) atomic_store(&ack[i], 0);
    atomic_store(&gen, 0);
    char *base = mmap(0, 2 * npages * 4096 + 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 2; }
    region[0] = base;
    region[1] = base + npages * 4096 + 4096;
    munmap(base + npages * 4096, 4096);
    map_at(region[0], 1);
    map_at(region[1], 0);
    atomic_store(&cur, region[0]);
    atomic_store(&gen, 1);
    pthread_t t[MAXW];
    for (long i = 0; i < nworkers; i++) pthread_create(&t[i], 0, worker, (void *)i);
    for (long g = 1; g <= iters; g++) {
        char *target = region[g % 2 == 1 ? 0 : 1];
        char *other = region[g % 2 == 1 ? 1 : 0];
        if (g > 1) {
            map_at(target, g);
            atomic_store(&cur, target);
            atomic_store(&gen, g);
        }
        double start = now();
        for (int i = 0; i < nworkers; i++) {
            while (atomic_load(&ack[i]) != g) {
                if (now() - start > 10.0) {
                    printf("FAIL: worker %d stuck at generation %ld, want %ld (stale TLB?)\n",
                           i, atomic_load(&ack[i]), g);
                    return 1;
                }
                sched_yield();
            }
        }
        if (mode_fixed) {
            map_at(other, -5);
        } else if (munmap(other, npages * 4096) != 0) { perror("munmap"); return 2; }
    }
    atomic_store(&gen, -1);
    for (int i = 0; i < nworkers; i++) pthread_join(t[i], 0);
    munmap(region[0], npages * 4096);
    munmap(region[1], npages * 4096);
    printf("tlb shootdown, %ld pages, %s: ok\n", pages, mode_fixed ? "MAP_FIXED" : "munmap");
    return 0;
}

int main(void) {
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    nworkers = ncpu > 1 ? ncpu - 1 : 1;
    if (nworkers > MAXW) nworkers = MAXW;
    int r = 0;
    r |= run(64, 30, 0);
    r |= run(64, 30, 1);
    r |= run(4, 30, 0);
    return r;
}
