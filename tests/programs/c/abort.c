/* abort() raises SIGABRT (glibc and musl both through tgkill/tkill on the caller); the
 * default action ends the program with status 128 + 6. A second thread is running
 * meanwhile, so the whole thread group has to go. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void *idler(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec second = {1, 0};
        nanosleep(&second, NULL);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, idler, NULL) != 0) {
        printf("FAIL: pthread_create\n");
        return 1;
    }
    printf("calling abort\n");
    fflush(stdout);
    abort();
}
