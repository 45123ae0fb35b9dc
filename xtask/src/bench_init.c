/* /init of the Linux guest that `cargo xtask bench --linux` boots: sets up a console,
 * runs the program named after `--` on the kernel command line, prints
 * "linux-init: exit status N" and ends QEMU through isa-debug-exit (port 0xf4, value
 * 0x10, the same exit code Spindle produces), falling back to power-off. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv) {
    mkdir("/dev", 0755);
    mknod("/dev/console", S_IFCHR | 0600, makedev(5, 1));
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    /* CPU counts and /proc/self/exe, as programs expect on Linux. */
    mkdir("/proc", 0555);
    mount("proc", "/proc", "proc", 0, 0);
    mkdir("/sys", 0555);
    mount("sysfs", "/sys", "sysfs", 0, 0);

    int status = 255;
    if (argc > 1) {
        pid_t pid = fork();
        if (pid == 0) {
            execv(argv[1], argv + 1);
            perror("linux-init: execv");
            _exit(127);
        }
        int ws = 0;
        if (pid > 0 && waitpid(pid, &ws, 0) == pid)
            status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    printf("linux-init: exit status %d\n", status);
    fflush(stdout);
    /* write() returns once the tty has the bytes, not once the UART sent them: wait,
     * or isa-debug-exit ends QEMU with the status line still queued. */
    tcdrain(1);
    if (ioperm(0xf4, 4, 1) == 0)
        outb(0x10, 0xf4);
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
