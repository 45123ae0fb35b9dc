// Pipes between threads: a large transfer with a checksum, end of file when the last
// writer closes (dup'ed ends included), EPIPE with SIGPIPE ignored, O_NONBLOCK EAGAIN,
// poll with a timeout, atomic PIPE_BUF writes from several writers, fstat and lseek.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, what)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            printf("FAIL: %s (line %d, errno %d)\n", what, __LINE__, errno); \
            exit(1);                                        \
        }                                                   \
    } while (0)

#define TOTAL (256 * 1024)
static int p[2];

static void *writer(void *arg) {
    (void)arg;
    static unsigned char buf[3000];
    for (int done = 0; done < TOTAL;) {
        int n = TOTAL - done < (int)sizeof buf ? TOTAL - done : (int)sizeof buf;
        for (int i = 0; i < n; i++) buf[i] = (unsigned char)(done + i);
        ssize_t w = write(p[1], buf, n);
        if (w <= 0) return (void *)1;
        done += w;
    }
    close(p[1]);
    return 0;
}

#define RECORD 512
static int q[2];
static void *recorder(void *arg) {
    char rec[RECORD];
    memset(rec, 'a' + (int)(long)arg, RECORD);
    for (int i = 0; i < 200; i++)
        if (write(q[1], rec, RECORD) != RECORD) return (void *)1;
    return 0;
}

int main(void) {
    // 1. A large transfer between threads, then end of file.
    CHECK(pipe(p) == 0, "pipe");
    pthread_t t;
    pthread_create(&t, 0, writer, 0);
    unsigned char buf[5000];
    long got = 0;
    int bad = 0;
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (unsigned char)(got + i)) bad = 1;
        got += n;
    }
    void *r;
    pthread_join(t, &r);
    CHECK(n == 0 && got == TOTAL && !bad && r == 0, "transfer and EOF");
    close(p[0]);
    printf("256 KiB through a pipe, then end of file ok\n");

    // 2. EOF only when every write end is closed; EPIPE once the reader is gone.
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
    CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC, "O_CLOEXEC");
    int w2 = dup(p[1]);
    close(p[1]);
    CHECK(write(w2, "x", 1) == 1 && read(p[0], buf, 10) == 1, "dup'ed write end works");
    close(w2);
    CHECK(read(p[0], buf, 10) == 0, "EOF after the last writer");
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE, "EPIPE without a reader");
    close(p[1]);
    printf("EOF and EPIPE ok\n");

    // 3. Non-blocking ends and poll.
    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2 O_NONBLOCK");
    CHECK(read(p[0], buf, 10) == -1 && errno == EAGAIN, "EAGAIN on an empty pipe");
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK(poll(&pf, 1, 30) == 0, "poll times out on an empty pipe");
    CHECK(write(p[1], "hi", 2) == 2, "write");
    CHECK(poll(&pf, 1, 30) == 1 && (pf.revents & POLLIN), "poll sees data");
    long filled = 0;
    while ((n = write(p[1], buf, sizeof buf)) > 0) filled += n;
    CHECK(n == -1 && errno == EAGAIN && filled > 0, "EAGAIN on a full pipe");
    struct pollfd pw = {.fd = p[1], .events = POLLOUT};
    CHECK(poll(&pw, 1, 0) == 0, "a full pipe is not writable");
    close(p[0]);
    close(p[1]);
    printf("O_NONBLOCK and poll ok\n");

    // 4. Writes of at most PIPE_BUF bytes never interleave.
    CHECK(pipe(q) == 0, "pipe");
    pthread_t ws[4];
    for (long i = 0; i < 4; i++) pthread_create(&ws[i], 0, recorder, (void *)i);
    long records = 0;
    int torn = 0;
    char rec[RECORD];
    while (records < 800) {
        size_t have = 0;
        while (have < RECORD) {
            n = read(q[0], rec + have, RECORD - have);
            CHECK(n > 0, "read records");
            have += n;
        }
        for (int i = 1; i < RECORD; i++)
            if (rec[i] != rec[0]) torn = 1;
        records++;
    }
    for (int i = 0; i < 4; i++) pthread_join(ws[i], 0);
    CHECK(!torn, "records are whole");
    printf("atomic writes up to PIPE_BUF ok\n");

    // 5. What a pipe is to fstat and lseek.
    struct stat st;
    CHECK(fstat(q[0], &st) == 0 && S_ISFIFO(st.st_mode), "S_ISFIFO");
    CHECK(lseek(q[0], 0, SEEK_SET) == -1 && errno == ESPIPE, "ESPIPE");
    CHECK(write(q[0], "x", 1) == -1 && errno == EBADF, "the read end is not writable");
    printf("fstat, lseek and EBADF ok\n");
    return 0;
}
