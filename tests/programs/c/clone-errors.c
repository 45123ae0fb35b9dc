/* Invalid clone and clone3 arguments, each printed with the errno Linux returns for it
 * (the expectation holds what this Linux host's kernel answered). Every case here is one
 * Linux rejects before it creates anything. Should a kernel accept one anyway, the child
 * leaves at once through SYS_exit without touching memory, and the case reports FAIL. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "linux-abi.h"

long try_clone(unsigned long flags, void *stack, int *ptid, int *ctid, unsigned long tls);
long try_clone3(void *args, size_t size);

/* A child, if one is created by mistake, exits before it touches its stack. */
__asm__(".text\n"
        ".globl try_clone\n"
        "try_clone:\n"
        "    mov %rcx, %r10\n"
        "    mov $56, %eax\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jz 1f\n"
        "    ret\n"
        ".globl try_clone3\n"
        "try_clone3:\n"
        "    mov $435, %eax\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jz 1f\n"
        "    ret\n"
        "1:  mov $60, %eax\n"
        "    xor %edi, %edi\n"
        "    syscall\n"
        "    ud2\n");

static const char *errno_name(long e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case EFAULT: return "EFAULT";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    default: return "other";
    }
}

static int failures;

static void report(const char *name, long ret)
{
    if (ret >= 0) {
        printf("%s: created a task (FAIL)\n", name);
        failures++;
    } else {
        printf("%s: %s\n", name, errno_name(-ret));
    }
}

static int parent_tid;
static char stack[4096] __attribute__((aligned(16)));

#define THREAD (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)

static void clone_case(const char *name, unsigned long flags)
{
    report(name, try_clone(flags, NULL, &parent_tid, NULL, 0));
}

static void clone3_case(const char *name, const struct clone_args_96 *a, size_t size)
{
    struct clone_args_96 copy = *a;
    report(name, try_clone3(&copy, size));
}

static struct clone_args_96 thread_args(void)
{
    struct clone_args_96 a;
    memset(&a, 0, sizeof a);
    a.flags = THREAD;
    a.stack = (uintptr_t)stack;
    a.stack_size = sizeof stack;
    return a;
}

int main(void)
{
    clone_case("clone CLONE_THREAD without CLONE_SIGHAND", CLONE_VM | CLONE_THREAD);
    clone_case("clone CLONE_SIGHAND without CLONE_VM", CLONE_SIGHAND);
    clone_case("clone CLONE_THREAD|CLONE_SIGHAND without CLONE_VM",
               CLONE_THREAD | CLONE_SIGHAND);
    clone_case("clone CLONE_FS|CLONE_NEWNS", CLONE_FS | CLONE_NEWNS | SIGCHLD);
    clone_case("clone CLONE_FS|CLONE_NEWUSER", CLONE_FS | CLONE_NEWUSER | SIGCHLD);
    clone_case("clone thread with CLONE_NEWUSER", THREAD | CLONE_NEWUSER);
    clone_case("clone thread with CLONE_NEWPID", THREAD | CLONE_NEWPID);
    clone_case("clone CLONE_PIDFD|CLONE_DETACHED", CLONE_PIDFD | CLONE_DETACHED | SIGCHLD);
    clone_case("clone CLONE_PIDFD|CLONE_PARENT_SETTID",
               CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD);

    struct clone_args_96 a;

    a = thread_args();
    a.flags = CLONE_VM | CLONE_THREAD;
    clone3_case("clone3 CLONE_THREAD without CLONE_SIGHAND", &a, 88);

    a = thread_args();
    a.flags = CLONE_SIGHAND;
    clone3_case("clone3 CLONE_SIGHAND without CLONE_VM", &a, 88);

    a = thread_args();
    a.flags |= 1ULL << 40;
    clone3_case("clone3 unknown flag bit 40", &a, 88);

    a = thread_args();
    a.flags |= 1ULL << 63;
    clone3_case("clone3 unknown flag bit 63", &a, 88);

    a = thread_args();
    a.flags |= CLONE_DETACHED;
    clone3_case("clone3 CLONE_DETACHED", &a, 88);

    a = thread_args();
    a.flags |= SIGCHLD;
    clone3_case("clone3 signal number in flags", &a, 88);

    a = thread_args();
    a.flags = CLONE_VM;
    a.exit_signal = 65;
    clone3_case("clone3 exit_signal 65", &a, 88);

    a = thread_args();
    a.flags = CLONE_VM;
    a.exit_signal = 1ULL << 32 | SIGCHLD;
    clone3_case("clone3 exit_signal above 32 bits", &a, 88);

    a = thread_args();
    a.exit_signal = SIGCHLD;
    clone3_case("clone3 CLONE_THREAD with exit_signal", &a, 88);

    a = thread_args();
    a.flags = CLONE_VM | CLONE_PARENT;
    a.exit_signal = SIGCHLD;
    clone3_case("clone3 CLONE_PARENT with exit_signal", &a, 88);

    a = thread_args();
    a.stack_size = 0;
    clone3_case("clone3 stack without stack_size", &a, 88);

    a = thread_args();
    a.stack = 0;
    clone3_case("clone3 stack_size without stack", &a, 88);

    a = thread_args();
    a.stack = 0xffff800000000000ULL;
    clone3_case("clone3 stack in kernel space", &a, 88);

    a = thread_args();
    a.flags |= CLONE_CLEAR_SIGHAND;
    clone3_case("clone3 CLONE_SIGHAND|CLONE_CLEAR_SIGHAND", &a, 88);

    a = thread_args();
    a.set_tid_size = 1;
    clone3_case("clone3 set_tid_size without set_tid", &a, 88);

    a = thread_args();
    a.set_tid_size = 33;
    a.set_tid = (uintptr_t)stack;
    clone3_case("clone3 set_tid_size 33", &a, 88);

    a = thread_args();
    a.flags |= CLONE_INTO_CGROUP;
    clone3_case("clone3 CLONE_INTO_CGROUP with size 80", &a, 80);

    a = thread_args();
    a.tail = 1;
    clone3_case("clone3 size 96 nonzero tail", &a, 96);

    a = thread_args();
    clone3_case("clone3 size 32", &a, 32);
    clone3_case("clone3 size 63", &a, 63);
    clone3_case("clone3 size 0", &a, 0);
    report("clone3 size 4097", try_clone3(stack, 4097));
    report("clone3 args at address 1", try_clone3((void *)1, 88));
    report("clone3 args at NULL", try_clone3(NULL, 88));

    if (failures) {
        printf("FAIL: %d cases created a task\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
