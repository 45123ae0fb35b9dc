/* The headline program: 10 threads that each print "secondary thread", then the main
 * thread reports creating and joining them. Which line comes when depends on scheduling,
 * so the expectation compares the lines as a multiset. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 10

static void *secondary(void *arg)
{
    (void)arg;
    printf("secondary thread\n");
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, secondary, NULL) != 0) {
            printf("FAIL: pthread_create %d\n", i);
            return 1;
        }
    }
    printf("Created %d threads\n", THREADS);
    for (int i = 0; i < THREADS; i++) {
        if (pthread_join(threads[i], NULL) != 0) {
            printf("FAIL: pthread_join %d\n", i);
            return 1;
        }
    }
    printf("Joined %d threads\n", THREADS);
    return 0;
}
