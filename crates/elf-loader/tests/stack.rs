//! The initial stack, checked by reading it back the way a libc's `_start` does.

use elf_loader::{
    AuxValues, DEFAULT_PIE_BASE, InitialStack, MAX_ARG_STRLEN, StackParams, build_initial_stack,
};
use std::collections::BTreeMap;
use syscall::Errno;

const TOP: u64 = 0x7fff_ffff_0000;

type Parsed = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(u64, u64)>);

fn aux() -> AuxValues {
    AuxValues {
        phdr: 0x400040,
        phent: 56,
        phnum: 10,
        pagesz: 4096,
        flags: 0,
        entry: 0x401bc0,
        uid: 0,
        euid: 0,
        gid: 0,
        egid: 0,
        secure: 0,
        hwcap: 0x178bfbff,
        hwcap2: 2,
        clktck: 100,
        minsigstksz: 2048,
    }
}

fn build(argv: &[&[u8]], envp: &[&[u8]]) -> Result<InitialStack, Errno> {
    build_initial_stack(&StackParams {
        stack_top: TOP,
        argv,
        envp,
        execfn: b"/bin/hello",
        random: *b"0123456789abcdef",
        aux: aux(),
    })
}

/// Reads user memory of the stack image.
struct Reader<'a>(&'a InitialStack);

impl Reader<'_> {
    fn u64(&self, addr: u64) -> u64 {
        let o = (addr - self.0.rsp) as usize;
        u64::from_le_bytes(self.0.bytes[o..o + 8].try_into().unwrap())
    }

    fn c_string(&self, addr: u64) -> Vec<u8> {
        let o = (addr - self.0.rsp) as usize;
        self.0.bytes[o..]
            .split(|&b| b == 0)
            .next()
            .unwrap()
            .to_vec()
    }

    fn bytes(&self, addr: u64, n: usize) -> &[u8] {
        let o = (addr - self.0.rsp) as usize;
        &self.0.bytes[o..o + n]
    }

    /// argv, envp and auxv, as `_start` finds them from rsp.
    fn parse(&self) -> Parsed {
        let mut p = self.0.rsp;
        let argc = self.u64(p);
        p += 8;
        let argv = (0..argc)
            .map(|i| self.c_string(self.u64(p + 8 * i)))
            .collect();
        p += 8 * argc;
        assert_eq!(self.u64(p), 0, "argv ends with NULL");
        p += 8;
        let mut envp = Vec::new();
        while self.u64(p) != 0 {
            envp.push(self.c_string(self.u64(p)));
            p += 8;
        }
        p += 8;
        let mut auxv = Vec::new();
        loop {
            let (key, value) = (self.u64(p), self.u64(p + 8));
            auxv.push((key, value));
            p += 16;
            if key == 0 {
                break;
            }
        }
        (argv, envp, auxv)
    }
}

#[test]
fn rsp_is_16_byte_aligned_and_bytes_reach_stack_top() {
    for n in 0..4 {
        let args: Vec<&[u8]> = (0..n).map(|_| &b"abc"[..n]).collect();
        let stack = build(&args, &[b"A=1"]).unwrap();
        assert_eq!(stack.rsp % 16, 0);
        assert_eq!(stack.rsp + stack.bytes.len() as u64, TOP);
    }
}

#[test]
fn argc_argv_and_envp_read_back_in_order() {
    let stack = build(
        &[b"/bin/hello", b"one", b"", b"two words"],
        &[b"HOME=/", b"X="],
    )
    .unwrap();
    let (argv, envp, _) = Reader(&stack).parse();
    assert_eq!(argv, [&b"/bin/hello"[..], b"one", b"", b"two words"]);
    assert_eq!(envp, [&b"HOME=/"[..], b"X="]);
}

#[test]
fn auxv_holds_every_entry_static_libcs_need() {
    use linux_raw_sys::auxvec::*;
    let stack = build(&[b"/bin/hello"], &[]).unwrap();
    let r = Reader(&stack);
    let (_, _, auxv) = r.parse();
    assert_eq!(auxv.last(), Some(&(u64::from(AT_NULL), 0)));
    let map: BTreeMap<u32, u64> = auxv.iter().map(|&(k, v)| (k as u32, v)).collect();
    assert_eq!(map.len(), auxv.len(), "no key twice");
    assert_eq!(map[&AT_PHDR], 0x400040);
    assert_eq!(map[&AT_PHENT], 56);
    assert_eq!(map[&AT_PHNUM], 10);
    assert_eq!(map[&AT_PAGESZ], 4096);
    assert_eq!(map[&AT_BASE], 0);
    assert_eq!(map[&AT_ENTRY], 0x401bc0);
    assert_eq!(map[&AT_SECURE], 0);
    assert_eq!(map[&AT_HWCAP], 0x178bfbff);
    assert_eq!(map[&AT_HWCAP2], 2);
    assert_eq!(map[&AT_CLKTCK], 100);
    assert_eq!(map[&AT_MINSIGSTKSZ], 2048);
    for key in [AT_FLAGS, AT_UID, AT_EUID, AT_GID, AT_EGID] {
        assert_eq!(map[&key], 0);
    }
    assert_eq!(r.bytes(map[&AT_RANDOM], 16), b"0123456789abcdef");
    assert_eq!(r.c_string(map[&AT_EXECFN]), b"/bin/hello");
    assert_eq!(r.c_string(map[&AT_PLATFORM]), b"x86_64");
}

#[test]
fn strings_lie_above_the_pointer_tables_and_below_an_end_marker() {
    let stack = build(&[b"a"], &[b"B=2"]).unwrap();
    let r = Reader(&stack);
    let argv0 = r.u64(stack.rsp + 8);
    assert!(argv0 > stack.rsp + 8 * 8 && argv0 < TOP - 8);
    assert_eq!(r.u64(TOP - 8), 0);
}

#[test]
fn aux_values_for_plan_come_from_the_plan() {
    let mut f = vec![0u8; 0x200];
    f[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    f[16] = 3; // ET_DYN
    f[18] = 62;
    f[20] = 1;
    f[24] = 0x10; // e_entry
    f[32] = 64; // e_phoff
    f[54] = 56;
    f[56] = 1;
    f[64] = 1; // PT_LOAD
    f[68] = 5; // R+X
    f[64 + 32] = 0xff; // filesz
    f[64 + 40] = 0xff; // memsz
    let plan = elf_loader::plan(&f, DEFAULT_PIE_BASE).unwrap();
    let aux = AuxValues::for_plan(&plan);
    assert_eq!(
        (aux.phdr, aux.phnum, aux.phent),
        (DEFAULT_PIE_BASE + 64, 1, 56)
    );
    assert_eq!(aux.entry, DEFAULT_PIE_BASE + 0x10);
    assert_eq!((aux.pagesz, aux.clktck), (4096, 100));
}

#[test]
fn oversized_argument_gives_e2big() {
    let long = vec![b'x'; MAX_ARG_STRLEN + 1];
    assert_eq!(build(&[&long], &[]), Err(Errno::E2BIG));
    let many: Vec<&[u8]> = vec![&b"0123456789"[..]; 300_000];
    assert_eq!(build(&many, &[]), Err(Errno::E2BIG));
}

#[test]
fn nul_inside_a_string_or_bad_stack_top_gives_einval() {
    assert_eq!(build(&[b"a\0b"], &[]), Err(Errno::EINVAL));
    let params = |top| StackParams {
        stack_top: top,
        argv: &[],
        envp: &[],
        execfn: b"x",
        random: [0; 16],
        aux: aux(),
    };
    assert_eq!(build_initial_stack(&params(TOP + 8)), Err(Errno::EINVAL));
    assert_eq!(build_initial_stack(&params(0x1000)), Err(Errno::EINVAL));
    assert_eq!(build_initial_stack(&params(!15)), Err(Errno::EINVAL));
}
