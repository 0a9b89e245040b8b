// The seccomp filters a session's sandbox can get (OCI `linux.seccomp`, compiled by node-agent).
//
// - mvp: allow by default, deny what a sandbox never needs and what widens the kernel's attack
//   surface (after Docker's default profile): mounts, namespaces, module loading, kexec, bpf,
//   perf, keyrings, ptrace, io_uring, clock setting. Namespace creation through clone is denied by
//   its flags; clone3 answers ENOSYS (its flags sit in memory a filter cannot read), so libc falls
//   back to clone.
// - strict: deny by default; allow what shells, coreutils, Python and Node use. Unknown (newer)
//   syscalls answer ENOSYS rather than EPERM, so libc takes its fallback path (faccessat2 →
//   faccessat, statx → newfstatat, clone3 → clone) instead of failing; the known-dangerous ones
//   still answer EPERM.
//
// Both are applied on top of an empty capability set and no_new_privs: most denied calls would
// fail anyway; the filter keeps their kernel code out of reach.

export interface SeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: SeccompRule[];
}

export type SeccompProfileName = 'mvp' | 'strict';

const EPERM = 1;
const ENOSYS = 38;

const ARCHITECTURES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'];

/** Syscalls no sandbox gets, under either profile. */
export const DENIED_SYSCALLS: readonly string[] = [
  'mount', 'umount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'ptrace', 'process_vm_readv', 'process_vm_writev',
  'kcmp', 'bpf', 'perf_event_open', 'userfaultfd', 'keyctl', 'add_key', 'request_key', 'kexec_load', 'kexec_file_load',
  'init_module', 'finit_module', 'delete_module', 'create_module', 'reboot', 'swapon', 'swapoff', 'acct', 'settimeofday',
  'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex', 'open_by_handle_at',
  'name_to_handle_at', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount',
  'open_tree', 'mount_setattr', 'iopl', 'ioperm', 'syslog', 'vhangup', 'nfsservctl', 'uselib', 'get_kernel_syms',
  'query_module', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'personality', 'vm86', 'vm86old', 'modify_ldt',
  '_sysctl', 'sysfs', 'ustat', 'fanotify_init', 'pidfd_getfd', 'setdomainname', 'sethostname',
];

/** clone flags that make namespaces. */
const NAMESPACE_FLAGS = [
  0x00020000 /* CLONE_NEWNS */, 0x02000000 /* CLONE_NEWCGROUP */, 0x04000000 /* CLONE_NEWUTS */, 0x08000000 /* CLONE_NEWIPC */,
  0x10000000 /* CLONE_NEWUSER */, 0x20000000 /* CLONE_NEWPID */, 0x40000000 /* CLONE_NEWNET */, 0x00000080 /* CLONE_NEWTIME */,
];

/** What a shell, coreutils, Python and Node need (and the runner itself: PTYs, sockets, signalfd). */
const ALLOWED_SYSCALLS: readonly string[] = [
  // files and directories
  'read', 'write', 'open', 'openat', 'openat2', 'close', 'close_range', 'creat', 'lseek', '_llseek', 'pread64', 'pwrite64',
  'readv', 'writev', 'preadv', 'pwritev', 'preadv2', 'pwritev2', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'stat64',
  'fstat64', 'lstat64', 'fstatat64', 'statfs', 'fstatfs', 'statfs64', 'fstatfs64', 'access', 'faccessat', 'faccessat2',
  'getdents', 'getdents64', 'readdir', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat',
  'unlink', 'unlinkat', 'symlink', 'symlinkat', 'readlink', 'readlinkat', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2',
  'chown', 'fchown', 'lchown', 'fchownat', 'chown32', 'fchown32', 'lchown32', 'truncate', 'ftruncate', 'truncate64',
  'ftruncate64', 'fallocate', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'utime', 'utimes', 'utimensat',
  'futimesat', 'utimensat_time64', 'mknod', 'mknodat', 'chdir', 'fchdir', 'getcwd', 'umask', 'dup', 'dup2', 'dup3', 'fcntl',
  'fcntl64', 'flock', 'ioctl', 'pipe', 'pipe2', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range',
  'fadvise64', 'fadvise64_64', 'readahead', 'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr', 'llistxattr', 'flistxattr',
  'setxattr', 'lsetxattr', 'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'inotify_init', 'inotify_init1',
  'inotify_add_watch', 'inotify_rm_watch', 'memfd_create',
  // memory
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall',
  'mincore', 'msync', 'membarrier', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'get_mempolicy', 'set_mempolicy', 'mbind',
  // processes and threads
  'clone', 'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'getpid', 'getppid',
  'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'set_tid_address', 'set_robust_list', 'get_robust_list',
  'futex', 'futex_time64', 'futex_waitv', 'rseq', 'arch_prctl', 'prctl', 'sched_yield', 'sched_getaffinity',
  'sched_setaffinity', 'sched_getparam', 'sched_setparam', 'sched_getscheduler', 'sched_setscheduler',
  'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_getattr', 'sched_setattr', 'getpriority', 'setpriority', 'getrlimit', 'setrlimit', 'prlimit64', 'ugetrlimit',
  'getrusage', 'times', 'capget', 'capset', 'pidfd_open', 'pidfd_send_signal', 'ioprio_get', 'ioprio_set', 'set_thread_area',
  'get_thread_area', 'getcpu', 'sysinfo', 'uname', 'olduname', 'oldolduname',
  // credentials
  'getuid', 'geteuid', 'getgid', 'getegid', 'getuid32', 'geteuid32', 'getgid32', 'getegid32', 'getresuid', 'getresgid',
  'getresuid32', 'getresgid32', 'getgroups', 'getgroups32', 'setuid', 'setgid', 'setuid32', 'setgid32', 'setreuid',
  'setregid', 'setreuid32', 'setregid32', 'setresuid', 'setresgid', 'setresuid32', 'setresgid32', 'setgroups', 'setgroups32',
  'setfsuid', 'setfsgid', 'setfsuid32', 'setfsgid32',
  // signals
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigpending', 'rt_sigtimedwait',
  'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaction', 'sigprocmask', 'sigreturn', 'sigsuspend',
  'sigpending', 'sigaltstack', 'signal', 'kill', 'tkill', 'tgkill', 'pause', 'signalfd', 'signalfd4', 'alarm',
  // time and timers
  'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'gettimeofday', 'time', 'nanosleep', 'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_gettime',
  'timer_gettime64', 'timer_settime', 'timer_settime64', 'timer_getoverrun', 'timerfd_create', 'timerfd_gettime',
  'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64',
  // polling and events
  'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create', 'epoll_create1',
  'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2',
  // sockets (the network namespace decides what they can reach)
  'socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'sendto',
  'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'recvmmsg_time64', 'shutdown', 'setsockopt', 'getsockopt',
  'socketcall',
  // IPC inside the sandbox
  'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl', 'msgget', 'msgsnd',
  'msgrcv', 'msgctl', 'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr', 'ipc',
  // misc
  'getrandom', 'restart_syscall', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'seccomp',
];

function denyNamespaces(errnoRet: number): SeccompRule[] {
  return [
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ...NAMESPACE_FLAGS.map((f) => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet,
      args: [{ index: 0, value: f, valueTwo: f, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  ];
}

/** Default-allow with a deny list (EPERM). */
export function mvpProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: [...ARCHITECTURES],
    syscalls: [{ names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }, ...denyNamespaces(EPERM)],
  };
}

/** Default-deny (ENOSYS) with an allow list; the known-dangerous ones answer EPERM. */
export function strictProfile(): SeccompProfile {
  const denied = new Set(DENIED_SYSCALLS);
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: ENOSYS,
    architectures: [...ARCHITECTURES],
    syscalls: [
      // The namespace rules come first: node-agent takes the first matching rule per syscall.
      ...denyNamespaces(EPERM),
      { names: ALLOWED_SYSCALLS.filter((s) => !denied.has(s) && s !== 'clone3'), action: 'SCMP_ACT_ALLOW' },
      { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    ],
  };
}

export function seccompProfile(name: SeccompProfileName): SeccompProfile {
  return name === 'strict' ? strictProfile() : mvpProfile();
}
