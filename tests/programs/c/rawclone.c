/* Threads made by hand, without pthreads: raw clone and clone3 from inline assembly,
 * each child on a hand-made 64 KiB stack with a hand-made TCB (%fs:0 points at itself),
 * with the flags the libcs use for threads:
 *   CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID.
 * The child makes raw syscalls only (gettid, nanosleep, write, exit). The parent waits
 * for the kernel to clear the child-tid word with a shared FUTEX_WAIT, as pthread_join
 * does. clone3 runs with every struct size the kernel accepts (64, 80, 88, and 96 with a
 * zero tail) and with sizes it refuses (96 with a nonzero tail: E2BIG; 32: EINVAL; above
 * a page: E2BIG). Output is unbuffered so parent and child lines come in program order. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "linux-abi.h"

#define STACK_SIZE (64 * 1024)
#define TLS_AREA 4096

#define THREAD_FLAGS                                                                    \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |  \
     CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

long raw_clone(unsigned long flags, void *stack_top, int *ptid, int *ctid, void *tls);
long raw_clone3(struct clone_args_96 *args, size_t size);

/* Both return the child's tid in the parent. The child starts on its new stack, which
 * the parent prepared to hold the entry function and its argument; it calls them and
 * passes the return value to SYS_exit, touching nothing but its own stack. */
__asm__(".text\n"
        ".globl raw_clone\n"
        "raw_clone:\n"
        "    mov %rcx, %r10\n"
        "    mov $56, %eax\n" /* SYS_clone: flags, stack, ptid, ctid, tls */
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jz child_entry\n"
        "    ret\n"
        ".globl raw_clone3\n"
        "raw_clone3:\n"
        "    mov $435, %eax\n" /* SYS_clone3 */
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jz child_entry\n"
        "    ret\n"
        "child_entry:\n"
        "    xor %ebp, %ebp\n"
        "    pop %rax\n"
        "    pop %rdi\n"
        "    call *%rax\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n" /* SYS_exit: this thread only */
        "    syscall\n"
        "    ud2\n");

static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static uintptr_t read_fs0(void)
{
    uintptr_t v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
    return v;
}

struct child {
    char *stack_lo, *stack_hi;
    void *tcb;
    int *child_tid_word;
    int check_child_settid;
    /* written by the child */
    long tid;
    uintptr_t fs0;
    int on_own_stack;
    int child_settid_ok;
};

static const char child_line[] = "child: running with raw syscalls\n";

static int child_main(void *arg)
{
    struct child *c = arg;
    char local;
    c->tid = sys3(SYS_gettid, 0, 0, 0);
    c->fs0 = read_fs0();
    c->on_own_stack = &local > c->stack_lo && &local < c->stack_hi;
    if (c->check_child_settid)
        c->child_settid_ok = *(volatile int *)c->child_tid_word == c->tid;
    /* Stay alive a little, so the parent really has to wait. */
    struct timespec ts = {0, 20 * 1000 * 1000};
    sys3(SYS_nanosleep, (long)&ts, 0, 0);
    sys3(SYS_write, 1, (long)child_line, sizeof child_line - 1);
    return 0;
}

struct setup {
    struct child child;
    char *stack;
    char *tls_area;
    int parent_tid;
    int child_tid; /* the clear-child-tid word */
};

static void prepare(struct setup *s)
{
    memset(s, 0, sizeof *s);
    s->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    s->tls_area = mmap(NULL, TLS_AREA, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(s->stack != MAP_FAILED && s->tls_area != MAP_FAILED);
    /* TCB in the middle of its page: variant II TLS lies below the thread pointer. */
    char *tcb = s->tls_area + TLS_AREA / 2;
    *(void **)tcb = tcb;
    /* Same stack-protector canary (%fs:0x28) as the parent, should the compiler check. */
    uintptr_t canary;
    __asm__ volatile("mov %%fs:0x28, %0" : "=r"(canary));
    *(uintptr_t *)(tcb + 0x28) = canary;

    s->child.stack_lo = s->stack;
    s->child.stack_hi = s->stack + STACK_SIZE;
    s->child.tcb = tcb;
    s->child.child_tid_word = &s->child_tid;
    s->child_tid = -1; /* nonzero until the kernel clears it at the child's exit */

    /* The child pops its entry function and argument from the top of its stack. */
    void **top = (void **)(s->stack + STACK_SIZE - 16);
    top[0] = (void *)child_main;
    top[1] = &s->child;
}

static void *stack_top(struct setup *s)
{
    return s->stack + STACK_SIZE - 16;
}

/* Shared FUTEX_WAIT on the clear-child-tid word until the kernel zeroes it. */
static void wait_for_exit(struct setup *s)
{
    for (;;) {
        int v = __atomic_load_n(&s->child_tid, __ATOMIC_ACQUIRE);
        if (v == 0)
            break;
        struct timespec timeout = {10, 0};
        long r = sys6(SYS_futex, (long)&s->child_tid, FUTEX_WAIT, v, (long)&timeout, 0, 0);
        CHECK(r == 0 || r == -EAGAIN || r == -EINTR);
    }
}

static void check_child(struct setup *s, long tid, const char *name)
{
    wait_for_exit(s);
    CHECK(s->child.tid == tid);
    CHECK(s->parent_tid == tid);
    CHECK(s->child.fs0 == (uintptr_t)s->child.tcb);
    CHECK(s->child.on_own_stack);
    if (s->child.check_child_settid)
        CHECK(s->child.child_settid_ok);
    CHECK(munmap(s->stack, STACK_SIZE) == 0 && munmap(s->tls_area, TLS_AREA) == 0);
    printf("%s: tid, parent tid, TLS and stack ok; clear-child-tid wake ok\n", name);
}

static long clone3_with(struct setup *s, size_t size, uint64_t tail, uint64_t extra_flags)
{
    struct clone_args_96 args;
    memset(&args, 0, sizeof args);
    args.flags = THREAD_FLAGS | extra_flags;
    args.child_tid = (uintptr_t)&s->child_tid;
    args.parent_tid = (uintptr_t)&s->parent_tid;
    args.exit_signal = 0;
    args.stack = (uintptr_t)s->stack;
    args.stack_size = (uintptr_t)stack_top(s) - (uintptr_t)s->stack;
    args.tls = (uintptr_t)s->child.tcb;
    args.tail = tail;
    return raw_clone3(&args, size);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    uintptr_t parent_fs0 = read_fs0();
    struct setup s;

    prepare(&s);
    printf("clone: starting\n");
    long tid = raw_clone(THREAD_FLAGS, stack_top(&s), &s.parent_tid, &s.child_tid,
                         s.child.tcb);
    CHECK(tid > 0);
    check_child(&s, tid, "clone");

    static const size_t sizes[] = {64, 80, 88, 96};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "clone3 size %zu", sizes[i]);
        prepare(&s);
        /* One case also asks for CLONE_CHILD_SETTID, which the child checks. */
        uint64_t extra = sizes[i] == 88 ? CLONE_CHILD_SETTID : 0;
        s.child.check_child_settid = extra != 0;
        printf("%s: starting\n", name);
        tid = clone3_with(&s, sizes[i], 0, extra);
        CHECK(tid > 0);
        check_child(&s, tid, name);
    }

    prepare(&s);
    CHECK(clone3_with(&s, 96, 1, 0) == -E2BIG);
    printf("clone3 size 96 with a nonzero tail: E2BIG ok\n");
    CHECK(clone3_with(&s, 32, 0, 0) == -EINVAL);
    printf("clone3 size 32: EINVAL ok\n");
    CHECK(clone3_with(&s, 4097, 0, 0) == -E2BIG);
    printf("clone3 size 4097: E2BIG ok\n");
    CHECK(s.child_tid == -1 && s.parent_tid == 0);

    CHECK(read_fs0() == parent_fs0);
    printf("parent TLS unchanged ok\n");
    printf("PASS\n");
    return 0;
}
