/* The initial process stack as the x86_64 psABI lays it out: argc, argv, envp and the
 * auxiliary vector. Prints argc, argv (argv[0] as a base name, since its directory
 * depends on where the program runs), the environment variables that start with "T_",
 * then checks the auxv entries the libcs rely on. */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#include "check.h"

extern char _start[];
extern const ElfW(Ehdr) __ehdr_start;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int main(int argc, char **argv, char **envp)
{
    printf("argc %d\n", argc);
    printf("argv[0] %s\n", base_name(argv[0]));
    for (int i = 1; i < argc; i++)
        printf("argv[%d] %s\n", i, argv[i]);
    CHECK(argv[argc] == NULL);
    /* psABI: envp follows argv's terminating NULL directly. */
    CHECK(envp == argv + argc + 1);

    char **e = envp;
    for (; *e; e++)
        if (strncmp(*e, "T_", 2) == 0)
            printf("env %s\n", *e);
    CHECK(getenv("T_MISSING") == NULL);

    /* The auxv starts after envp's NULL; getauxval must agree with a direct walk. */
    ElfW(auxv_t) *auxv = (ElfW(auxv_t) *)(e + 1);
    int seen_pagesz = 0;
    for (ElfW(auxv_t) *a = auxv; a->a_type != AT_NULL; a++) {
        if (a->a_type == AT_PAGESZ) {
            CHECK(a->a_un.a_val == getauxval(AT_PAGESZ));
            seen_pagesz = 1;
        }
    }
    CHECK(seen_pagesz);
    printf("auxv follows envp ok\n");

    CHECK(getauxval(AT_PAGESZ) == 4096);
    printf("auxv AT_PAGESZ ok\n");

    const unsigned char *random = (const unsigned char *)getauxval(AT_RANDOM);
    CHECK(random != NULL);
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= random[i];
    CHECK(nonzero);
    printf("auxv AT_RANDOM ok\n");

    /* AT_PHDR is where the program headers are mapped: the ELF header's e_phoff bytes
     * after the image start (the first PT_LOAD covers the ELF header in these builds). */
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    CHECK(phdr == (const ElfW(Phdr) *)((const char *)&__ehdr_start + __ehdr_start.e_phoff));
    CHECK(getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
    printf("auxv AT_PHDR ok\n");

    unsigned long phnum = getauxval(AT_PHNUM);
    CHECK(phnum == __ehdr_start.e_phnum);
    int loads = 0;
    for (unsigned long i = 0; i < phnum; i++)
        loads += phdr[i].p_type == PT_LOAD;
    CHECK(loads >= 1);
    printf("auxv AT_PHNUM ok\n");

    CHECK(getauxval(AT_ENTRY) == (unsigned long)_start);
    printf("auxv AT_ENTRY ok\n");

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn != NULL && strcmp(base_name(execfn), base_name(argv[0])) == 0);
    printf("auxv AT_EXECFN ok\n");

    printf("PASS\n");
    return 0;
}
