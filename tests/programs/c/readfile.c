/* Reads /data/hello.txt, a file packed into the initrd: open, fstat, read, lseek in all
 * three modes, stat by path, and the errors Linux gives for a missing file, a closed
 * descriptor and a directory opened for writing. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define PATH "/data/hello.txt"
#define CONTENTS "Hello from the initrd!\nThis is the second line.\n"

int main(void)
{
    int fd = open(PATH, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);

    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(st.st_size == (off_t)strlen(CONTENTS));
    printf("fstat size %lld\n", (long long)st.st_size);

    char buf[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, 10); /* small reads exercise the file offset */
        CHECK(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
        CHECK(got < sizeof buf);
    }
    buf[got] = 0;
    CHECK(strcmp(buf, CONTENTS) == 0);
    printf("contents:\n%s", buf);

    CHECK(lseek(fd, 0, SEEK_CUR) == st.st_size);
    CHECK(lseek(fd, 15, SEEK_SET) == 15);
    CHECK(read(fd, buf, 6) == 6);
    CHECK(memcmp(buf, "initrd", 6) == 0);
    CHECK(lseek(fd, -6, SEEK_END) == st.st_size - 6);
    CHECK(read(fd, buf, sizeof buf) == 6);
    CHECK(memcmp(buf, "line.\n", 6) == 0);
    CHECK(read(fd, buf, sizeof buf) == 0);
    CHECK_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
    printf("lseek ok\n");

    struct stat by_path;
    CHECK(stat(PATH, &by_path) == 0);
    CHECK(by_path.st_size == st.st_size && S_ISREG(by_path.st_mode));
    printf("stat ok\n");

    CHECK(close(fd) == 0);
    CHECK_ERRNO(read(fd, buf, 1), EBADF);
    CHECK_ERRNO(close(fd), EBADF);
    printf("closed descriptor EBADF ok\n");

    CHECK_ERRNO(open("/data/missing.txt", O_RDONLY), ENOENT);
    CHECK_ERRNO(open("/no/such/dir/file", O_RDONLY), ENOENT);
    printf("missing file ENOENT ok\n");

    CHECK_ERRNO(open("/data", O_WRONLY), EISDIR);
    printf("directory for writing EISDIR ok\n");

    printf("PASS\n");
    return 0;
}
