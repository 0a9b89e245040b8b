/* cgroup tests on the real host (as root). v1/hybrid mode: limits are written and enforced
 * (pids.max stops a fork loop, a memory hog is OOM-killed while its parent lives, the CPU quota
 * throttles), update changes them live, destroy kills and removes every directory. v2 mode runs
 * against $SK_CGROUP_ROOT_V2 (default here: the hybrid /sys/fs/cgroup/unified): creation,
 * placement, cgroup.kill, freeze-and-signal, removal, and clear errors for missing controllers.
 * Usage: cgroup_test [v1|v2]... (default both). Output is TAP (tests/tap.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../src/resources.h"
#include "tap.h"

/* ---- host inspection, independent of the code under test ----------------------------------- */

/* The mount point of the v1 hierarchy carrying `opt` (a controller or name=systemd), or of the
 * cgroup2 mount when opt is NULL; "" when there is none. */
static const char *mount_of(const char *opt) {
  /* Cached per option, so the returned strings stay valid. */
  static struct {
    char opt[32];
    char mp[256];
  } cache[16];
  static size_t n_cache;
  const char *key = opt == NULL ? "" : opt;
  for (size_t i = 0; i < n_cache; i++)
    if (strcmp(cache[i].opt, key) == 0)
      return cache[i].mp;
  if (n_cache == 16)
    return "";
  snprintf(cache[n_cache].opt, sizeof cache[n_cache].opt, "%s", key);
  char *out = cache[n_cache++].mp;
  out[0] = '\0';
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[2048];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char mp[256], fstype[64], superopts[512];
    const char *sep = strstr(line, " - ");
    if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %255s", mp) != 1 || sscanf(sep, " - %63s %*s %511s", fstype, superopts) != 2)
      continue;
    bool match = false;
    if (opt == NULL) {
      match = strcmp(fstype, "cgroup2") == 0;
    } else if (strcmp(fstype, "cgroup") == 0) {
      char *save = NULL;
      for (char *o = strtok_r(superopts, ",\n", &save); o != NULL && !match; o = strtok_r(NULL, ",\n", &save))
        match = strcmp(o, opt) == 0;
    }
    if (match) {
      snprintf(out, 256, "%s", mp);
      break;
    }
  }
  if (f != NULL)
    fclose(f);
  return out;
}

static char *slurp(const char *dir, const char *cgpath, const char *file) {
  static char bufs[32][4096]; /* a ring: several results may sit in one expression */
  static int next;
  char *buf = bufs[next++ % 32], path[1024];
  snprintf(path, sizeof path, "%s%s/%s", dir, cgpath, file);
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(buf, 4096, "<%s: %s>", path, strerror(errno));
    return buf;
  }
  size_t n = fread(buf, 1, 4095, f);
  fclose(f);
  buf[n] = '\0';
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
  return buf;
}

static bool dir_exists(const char *dir, const char *cgpath) {
  char path[1024];
  struct stat st;
  snprintf(path, sizeof path, "%s%s", dir, cgpath);
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static long long key_value(const char *text, const char *key) {
  const char *p = strstr(text, key);
  return p == NULL ? -1 : atoll(p + strlen(key) + 1);
}

static bool word_in(const char *list, const char *word) {
  char copy[4096], *save = NULL;
  snprintf(copy, sizeof copy, "%s", list);
  for (char *w = strtok_r(copy, " \n", &save); w != NULL; w = strtok_r(NULL, " \n", &save))
    if (strcmp(w, word) == 0)
      return true;
  return false;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void msleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* ---- cgroups used by the tests: unique per run, destroyed at exit ---------------------------- */

static sk_cgroup_t used[32];
static size_t n_used;

static sk_cgroup_t new_cgroup(sk_cgroup_mode_t mode, const char *name) {
  sk_cgroup_t cg = {.mode = mode};
  snprintf(cg.path, sizeof cg.path, "/sandkasten/cgtest-%d-%s", (int)getpid(), name);
  if (n_used < 32)
    used[n_used++] = cg;
  return cg;
}

static void cleanup_all(void) {
  for (size_t i = 0; i < n_used; i++) {
    sk_error_t err;
    if (used[i].mode == SK_CGROUP_V2 && getenv("SK_CGROUP_ROOT_V2") == NULL)
      continue;
    if (cgroup_destroy(&used[i], &err) < 0)
      fprintf(stderr, "cleanup %s: %s\n", used[i].path, err.msg);
  }
}

/* ---- children that wait to be placed before they run ---------------------------------------- */

typedef struct kid {
  pid_t pid;
  int go;      /* write a byte: the child starts (again) */
  int results; /* the child writes its findings here */
} kid_t;

typedef void (*kid_fn)(int go, int results);

static kid_t spawn(kid_fn fn) {
  int go[2], res[2];
  if (pipe(go) < 0 || pipe(res) < 0) {
    perror("pipe");
    exit(2);
  }
  kid_t k = {.pid = fork()};
  if (k.pid < 0) {
    perror("fork");
    exit(2);
  }
  if (k.pid == 0) {
    close(go[1]);
    close(res[0]);
    char c;
    if (read(go[0], &c, 1) != 1)
      _exit(0);
    fn(go[0], res[1]);
    _exit(0);
  }
  close(go[0]);
  close(res[1]);
  k.go = go[1];
  k.results = res[0];
  return k;
}

static void kid_go(const kid_t *k) { (void)!write(k->go, "g", 1); }

static long kid_result(const kid_t *k) {
  long v = -1;
  if (read(k->results, &v, sizeof v) != sizeof v)
    return -1;
  return v;
}

/* Returns the wait status (or -1 if it did not end within ms). */
static int kid_reap(kid_t *k, long ms) {
  int status;
  for (long waited = 0; waited <= ms; waited += 10) {
    pid_t r = waitpid(k->pid, &status, WNOHANG);
    if (r == k->pid) {
      close(k->go);
      close(k->results);
      return status;
    }
    msleep(10);
  }
  return -1;
}

static void put(int fd, long v) { (void)!write(fd, &v, sizeof v); }

/* Forks sleepers until fork fails, reports how many, waits for "go", repeats. */
static void fork_loop(int go, int results) {
  for (;;) {
    long n = 0;
    for (;;) {
      pid_t p = fork();
      if (p < 0)
        break;
      if (p == 0) {
        pause();
        _exit(0);
      }
      n++;
      if (n > 500)
        break;
    }
    put(results, errno == EAGAIN ? n : -errno);
    char c;
    if (read(go, &c, 1) != 1)
      pause();
  }
}

/* Forks a memory hog and reports how it ended; survives it. */
static void oom_parent(int go, int results) {
  (void)go;
  pid_t hog = fork();
  if (hog == 0) {
    for (int i = 0; i < 1024; i++) {
      char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED)
        _exit(3);
      memset(p, 1, 1 << 20);
    }
    _exit(4); /* allocated 1 GiB: the limit did not hold */
  }
  int status = 0;
  waitpid(hog, &status, 0);
  put(results, status);
  pause();
}

/* Spins for one second of wall time and reports the CPU time it got, in ms. */
static void spin(int go, int results) {
  (void)go;
  struct timespec start, now, cpu;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do
    clock_gettime(CLOCK_MONOTONIC, &now);
  while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 1000);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  put(results, cpu.tv_sec * 1000 + cpu.tv_nsec / 1000000);
  pause();
}

/* Forks three sleepers and sleeps. */
static void family(int go, int results) {
  (void)go;
  for (int i = 0; i < 3; i++)
    if (fork() == 0) {
      pause();
      _exit(0);
    }
  put(results, 3);
  pause();
}

/* ---- v1 ------------------------------------------------------------------------------------ */

#define MiB (1024LL * 1024)

static void test_v1_limits_and_placement(void) {
  sk_cgroup_t cg = new_cgroup(SK_CGROUP_V1, "limits");
  sk_resources_t res = {.has_memory_limit = true, .memory_limit = 64 * MiB, .has_memory_swap = true, .memory_swap = 64 * MiB,
                        .has_cpu_quota = true, .cpu_quota = 20000, .has_cpu_period = true, .cpu_period = 100000,
                        .has_cpu_shares = true, .cpu_shares = 512, .has_pids_limit = true, .pids_limit = 16};
  kid_t k = spawn(fork_loop);
  sk_error_t err = {0};
  double t0 = now_ms();
  int r = cgroup_create(&cg, &res, k.pid, &err);
  tap_note("v1 create (7 hierarchies, 4 limits, placement): %.2f ms", now_ms() - t0);
  tap_check(r == 0, "v1: create with memory, swap, cpu and pids limits", "%s", err.msg);
  const char *mem = mount_of("memory"), *cpu = mount_of("cpu"), *pids = mount_of("pids");
  tap_check(strcmp(slurp(mem, cg.path, "memory.limit_in_bytes"), "67108864") == 0 &&
                strcmp(slurp(mem, cg.path, "memory.memsw.limit_in_bytes"), "67108864") == 0,
            "v1: memory.limit_in_bytes and memory.memsw.limit_in_bytes written", "%s / %s", slurp(mem, cg.path, "memory.limit_in_bytes"),
            slurp(mem, cg.path, "memory.memsw.limit_in_bytes"));
  tap_check(strcmp(slurp(cpu, cg.path, "cpu.cfs_quota_us"), "20000") == 0 && strcmp(slurp(cpu, cg.path, "cpu.cfs_period_us"), "100000") == 0 &&
                strcmp(slurp(cpu, cg.path, "cpu.shares"), "512") == 0,
            "v1: cpu.cfs_quota_us, cpu.cfs_period_us and cpu.shares written", "%s %s %s", slurp(cpu, cg.path, "cpu.cfs_quota_us"),
            slurp(cpu, cg.path, "cpu.cfs_period_us"), slurp(cpu, cg.path, "cpu.shares"));
  tap_check(strcmp(slurp(pids, cg.path, "pids.max"), "16") == 0, "v1: pids.max written", "%s", slurp(pids, cg.path, "pids.max"));
  tap_check(key_value(slurp(mem, cg.path, "memory.oom_control"), "oom_kill_disable") == 0, "v1: OOM killer left enabled", "%s",
            slurp(mem, cg.path, "memory.oom_control"));

  /* The child is in every hierarchy we use, the hybrid cgroup2 and name=systemd ones included. */
  const char *where[] = {"memory", "cpu", "cpuacct", "pids", "freezer", "name=systemd", NULL};
  char pidstr[16], missing[256] = "";
  snprintf(pidstr, sizeof pidstr, "%d", (int)k.pid);
  for (int i = 0; where[i] != NULL; i++)
    if (*mount_of(where[i]) && !word_in(slurp(mount_of(where[i]), cg.path, "cgroup.procs"), pidstr))
      snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s", where[i]);
  if (*mount_of(NULL) && !word_in(slurp(mount_of(NULL), cg.path, "cgroup.procs"), pidstr))
    snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " unified");
  tap_check(missing[0] == '\0', "v1: process placed in every hierarchy", "missing from:%s", missing);

  pid_t *list = NULL;
  size_t n = 0;
  r = cgroup_pids(&cg, &list, &n, &err);
  tap_check(r == 0 && n == 1 && list[0] == k.pid, "v1: cgroup_pids lists the process once", "r=%d n=%zu %s", r, n, r < 0 ? err.msg : "");
  free(list);

  /* pids.max stops a fork loop: the loop's own process counts, so 15 forks succeed. */
  kid_go(&k);
  long forks = kid_result(&k);
  tap_check(forks == 15, "v1: pids.max=16 stops a fork loop after 15 forks (EAGAIN)", "got %ld", forks);

  /* update raises the limits live. */
  sk_resources_t more = {.has_pids_limit = true, .pids_limit = 32, .has_memory_limit = true, .memory_limit = 128 * MiB,
                         .has_cpu_quota = true, .cpu_quota = -1};
  r = cgroup_update(&cg, &more, &err);
  tap_check(r == 0 && strcmp(slurp(pids, cg.path, "pids.max"), "32") == 0 &&
                strcmp(slurp(mem, cg.path, "memory.limit_in_bytes"), "134217728") == 0 &&
                strcmp(slurp(mem, cg.path, "memory.memsw.limit_in_bytes"), "134217728") == 0 &&
                strcmp(slurp(cpu, cg.path, "cpu.cfs_quota_us"), "-1") == 0,
            "v1: update changes pids.max, memory (memsw follows) and cpu quota live", "r=%d %s; pids %s mem %s memsw %s quota %s", r,
            r < 0 ? err.msg : "", slurp(pids, cg.path, "pids.max"), slurp(mem, cg.path, "memory.limit_in_bytes"),
            slurp(mem, cg.path, "memory.memsw.limit_in_bytes"), slurp(cpu, cg.path, "cpu.cfs_quota_us"));
  kid_go(&k);
  forks = kid_result(&k);
  tap_check(forks == 16, "v1: after update to pids.max=32 the loop forks 16 more", "got %ld", forks);

  /* Lowering memory below the current memsw keeps memsw (the kernel orders the writes). */
  sk_resources_t less = {.has_memory_limit = true, .memory_limit = 48 * MiB, .has_memory_swap = true, .memory_swap = 48 * MiB};
  r = cgroup_update(&cg, &less, &err);
  tap_check(r == 0 && strcmp(slurp(mem, cg.path, "memory.memsw.limit_in_bytes"), "50331648") == 0,
            "v1: update can lower memory and memory+swap together", "r=%d %s", r, r < 0 ? err.msg : "");

  /* destroy: 32 processes, one of them still forking on demand. */
  t0 = now_ms();
  r = cgroup_destroy(&cg, &err);
  tap_note("v1 destroy (kill 32 processes, remove 7 directories): %.2f ms", now_ms() - t0);
  int status = kid_reap(&k, 2000);
  tap_check(r == 0 && status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "v1: destroy kills every process",
            "r=%d %s status=%#x", r, r < 0 ? err.msg : "", status);
  char left[256] = "";
  for (int i = 0; where[i] != NULL; i++)
    if (*mount_of(where[i]) && dir_exists(mount_of(where[i]), cg.path))
      snprintf(left + strlen(left), sizeof left - strlen(left), " %s", where[i]);
  if (*mount_of(NULL) && dir_exists(mount_of(NULL), cg.path))
    snprintf(left + strlen(left), sizeof left - strlen(left), " unified");
  tap_check(left[0] == '\0', "v1: destroy removes the directory in every hierarchy", "left in:%s", left);
  r = cgroup_destroy(&cg, &err);
  tap_check(r == 0, "v1: destroying an absent cgroup succeeds", "%s", err.msg);
}

static void test_v1_oom(void) {
  sk_cgroup_t cg = new_cgroup(SK_CGROUP_V1, "oom");
  sk_resources_t res = {.has_memory_limit = true, .memory_limit = 32 * MiB, .has_memory_swap = true, .memory_swap = 32 * MiB};
  kid_t k = spawn(oom_parent);
  sk_error_t err = {0};
  bool killed = true;
  int r = cgroup_create(&cg, &res, k.pid, &err);
  if (r == 0)
    r = cgroup_oom_killed(&cg, &killed, &err);
  tap_check(r == 0 && !killed, "v1: no OOM kill reported before the hog runs", "r=%d %s", r, err.msg);
  kid_go(&k);
  long hog = kid_result(&k);
  tap_check(hog != -1 && WIFSIGNALED(hog) && WTERMSIG(hog) == SIGKILL, "v1: memory hog is OOM-killed inside the cgroup",
            "hog status %#lx", hog);
  tap_check(kill(k.pid, 0) == 0 && waitpid(k.pid, NULL, WNOHANG) == 0, "v1: the hog's parent in the cgroup survives", "gone");
  r = cgroup_oom_killed(&cg, &killed, &err);
  tap_check(r == 0 && killed, "v1: cgroup_oom_killed reports the kill", "r=%d %s", r, err.msg);
  r = cgroup_destroy(&cg, &err);
  kid_reap(&k, 2000);
  tap_check(r == 0, "v1: destroy after OOM", "%s", err.msg);
}

static void test_v1_cpu_quota(void) {
  sk_cgroup_t cg = new_cgroup(SK_CGROUP_V1, "cpu");
  sk_resources_t res = {.has_cpu_quota = true, .cpu_quota = 20000, .has_cpu_period = true, .cpu_period = 100000};
  kid_t k = spawn(spin);
  sk_error_t err = {0};
  int r = cgroup_create(&cg, &res, k.pid, &err);
  kid_go(&k);
  long cpu_ms = kid_result(&k);
  tap_note("cpu quota 20%%: %ld ms of CPU in 1000 ms", cpu_ms);
  long long throttled = key_value(slurp(mount_of("cpu"), cg.path, "cpu.stat"), "nr_throttled");
  tap_check(r == 0 && cpu_ms > 10 && cpu_ms < 350 && throttled > 0, "v1: cpu quota 20000/100000 holds a spinner near 20%",
            "r=%d %s cpu=%ld ms throttled=%lld", r, err.msg, cpu_ms, throttled);
  r = cgroup_destroy(&cg, &err);
  kid_reap(&k, 2000);
  tap_check(r == 0, "v1: destroy after cpu test", "%s", err.msg);
}

static void test_v1_kill_all(void) {
  sk_cgroup_t cg = new_cgroup(SK_CGROUP_V1, "kill");
  kid_t k = spawn(family);
  sk_error_t err = {0};
  int r = cgroup_create(&cg, NULL, k.pid, &err);
  kid_go(&k);
  kid_result(&k);
  pid_t *list = NULL;
  size_t n = 0;
  if (r == 0)
    r = cgroup_pids(&cg, &list, &n, &err);
  free(list);
  tap_check(r == 0 && n == 4, "v1: children are in the cgroup too", "r=%d n=%zu %s", r, n, err.msg);
  r = cgroup_kill_all(&cg, SIGTERM, &err);
  int status = kid_reap(&k, 2000);
  n = 99;
  for (int i = 0; i < 200 && n != 0; i++, msleep(10)) {
    list = NULL;
    cgroup_pids(&cg, &list, &n, &err);
    free(list);
  }
  const char *fz = mount_of("freezer");
  tap_check(r == 0 && status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && n == 0,
            "v1: kill_all(SIGTERM) reaches every process", "r=%d %s status=%#x left=%zu", r, err.msg, status, n);
  tap_check(!*fz || strcmp(slurp(fz, cg.path, "freezer.state"), "THAWED") == 0, "v1: freezer thawed after signalling", "%s",
            slurp(fz, cg.path, "freezer.state"));
  r = cgroup_destroy(&cg, &err);
  tap_check(r == 0, "v1: destroy of an empty cgroup", "%s", err.msg);
}

static void test_v1_errors(void) {
  sk_error_t err = {0};
  sk_cgroup_t bad = {.mode = SK_CGROUP_V1};
  snprintf(bad.path, sizeof bad.path, "/sandkasten/../../escape");
  int r = cgroup_create(&bad, NULL, 0, &err);
  tap_check(r < 0 && strstr(err.msg, "..") != NULL, "path with `..` is refused", "%s", r < 0 ? err.msg : "accepted");
  snprintf(bad.path, sizeof bad.path, "relative/x");
  r = cgroup_create(&bad, NULL, 0, &err);
  tap_check(r < 0 && strstr(err.msg, "absolute") != NULL, "relative path is refused", "%s", r < 0 ? err.msg : "accepted");
  sk_cgroup_t absent = new_cgroup(SK_CGROUP_V1, "absent");
  sk_resources_t res = {.has_pids_limit = true, .pids_limit = 5};
  r = cgroup_update(&absent, &res, &err);
  tap_check(r < 0 && err.errno_ == ENOENT, "update of a missing cgroup is ENOENT", "%s", r < 0 ? err.msg : "accepted");
  sk_resources_t bad_quota = {.has_cpu_quota = true, .cpu_quota = 10};
  r = cgroup_create(&absent, &bad_quota, 0, &err);
  tap_check(r < 0 && strstr(err.msg, "quota") != NULL && !dir_exists(mount_of("cpu"), absent.path), "cpu quota below 1000 µs is refused up front",
            "%s", r < 0 ? err.msg : "accepted");
}

/* ---- v2 ------------------------------------------------------------------------------------ */

static void test_v2(const char *root) {
  sk_error_t err = {0};
  sk_cgroup_mode_t mode = 0;
  int r = cgroup_detect(&mode, &err);
  tap_check(r == 0 && mode == SK_CGROUP_V2, "v2: SK_CGROUP_ROOT_V2 forces v2 mode", "r=%d mode=%d %s", r, (int)mode, err.msg);

  sk_cgroup_t cg = new_cgroup(SK_CGROUP_V2, "v2");
  kid_t k = spawn(family);
  r = cgroup_create(&cg, NULL, k.pid, &err);
  char pidstr[16];
  snprintf(pidstr, sizeof pidstr, "%d", (int)k.pid);
  tap_check(r == 0 && word_in(slurp(root, cg.path, "cgroup.procs"), pidstr), "v2: create places the process", "r=%d %s procs=%s", r,
            err.msg, slurp(root, cg.path, "cgroup.procs"));
  tap_check(key_value(slurp(root, cg.path, "cgroup.events"), "populated") == 1, "v2: cgroup.events says populated", "%s",
            slurp(root, cg.path, "cgroup.events"));
  kid_go(&k);
  kid_result(&k);
  pid_t *list = NULL;
  size_t n = 0;
  r = cgroup_pids(&cg, &list, &n, &err);
  free(list);
  tap_check(r == 0 && n == 4, "v2: cgroup_pids lists the process and its children", "r=%d n=%zu %s", r, n, err.msg);
  bool killed = true;
  r = cgroup_oom_killed(&cg, &killed, &err);
  tap_check(r == 0 && !killed, "v2: no OOM reported (memory controller absent or quiet)", "r=%d %s", r, err.msg);

  /* SIGTERM goes through freeze, signal, thaw. */
  r = cgroup_kill_all(&cg, SIGTERM, &err);
  int status = kid_reap(&k, 2000);
  tap_check(r == 0 && status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM &&
                strcmp(slurp(root, cg.path, "cgroup.freeze"), "0") == 0,
            "v2: kill_all(SIGTERM) freezes, signals, thaws", "r=%d %s status=%#x freeze=%s", r, err.msg, status,
            slurp(root, cg.path, "cgroup.freeze"));
  long long populated = 1;
  for (int i = 0; i < 200 && populated != 0; i++, msleep(10))
    populated = key_value(slurp(root, cg.path, "cgroup.events"), "populated");
  tap_check(populated == 0, "v2: cgroup empties after kill_all", "populated=%lld", populated);

  /* SIGKILL through cgroup.kill, then destroy. */
  k = spawn(family);
  r = cgroup_create(&cg, NULL, k.pid, &err);
  kid_go(&k);
  kid_result(&k);
  if (r == 0)
    r = cgroup_kill_all(&cg, SIGKILL, &err);
  status = kid_reap(&k, 2000);
  tap_check(r == 0 && status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "v2: kill_all(SIGKILL) via cgroup.kill",
            "r=%d %s status=%#x", r, err.msg, status);
  k = spawn(family);
  r = cgroup_create(&cg, NULL, k.pid, &err);
  kid_go(&k);
  kid_result(&k);
  double t0 = now_ms();
  if (r == 0)
    r = cgroup_destroy(&cg, &err);
  tap_note("v2 destroy (cgroup.kill 4 processes, rmdir): %.2f ms", now_ms() - t0);
  status = kid_reap(&k, 2000);
  tap_check(r == 0 && status != -1 && !dir_exists(root, cg.path), "v2: destroy kills and removes the cgroup", "r=%d %s", r, err.msg);
  r = cgroup_destroy(&cg, &err);
  tap_check(r == 0, "v2: destroying an absent cgroup succeeds", "%s", err.msg);

  /* Limits whose controller the hierarchy does not offer. */
  char avail[4096];
  snprintf(avail, sizeof avail, "%s", slurp(root, "", "cgroup.controllers"));
  struct {
    const char *controller;
    sk_resources_t res;
  } cases[] = {
      {"memory", {.has_memory_limit = true, .memory_limit = 64 * MiB}},
      {"cpu", {.has_cpu_quota = true, .cpu_quota = 50000}},
      {"pids", {.has_pids_limit = true, .pids_limit = 10}},
  };
  for (size_t i = 0; i < 3; i++) {
    char name[128];
    snprintf(name, sizeof name, "v2: a %s limit without the %s controller is an error naming it", cases[i].controller, cases[i].controller);
    if (word_in(avail, cases[i].controller)) {
      tap_skip(name, "the controller is available here");
      continue;
    }
    char want[64];
    snprintf(want, sizeof want, "`%s`", cases[i].controller);
    r = cgroup_create(&cg, &cases[i].res, 0, &err);
    tap_check(r < 0 && strstr(err.msg, want) != NULL && strstr(err.msg, "not available") != NULL && !dir_exists(root, cg.path), name,
              "%s", r < 0 ? err.msg : "accepted");
  }
}

static void test_v2_bad_root(void) {
  setenv("SK_CGROUP_ROOT_V2", "/tmp", 1);
  sk_error_t err = {0};
  sk_cgroup_mode_t mode;
  int r = cgroup_detect(&mode, &err);
  tap_check(r < 0 && strstr(err.msg, "not a cgroup2 mount") != NULL, "v2: SK_CGROUP_ROOT_V2 on a non-cgroup2 path is an error", "%s",
            r < 0 ? err.msg : "accepted");
}

int main(int argc, char **argv) {
  bool v1 = argc < 2, v2 = argc < 2;
  for (int i = 1; i < argc; i++) {
    v1 = v1 || strcmp(argv[i], "v1") == 0;
    v2 = v2 || strcmp(argv[i], "v2") == 0;
  }
  signal(SIGPIPE, SIG_IGN);
  atexit(cleanup_all);
  struct statfs fs;
  bool host_v1 = statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type != CGROUP2_SUPER_MAGIC;
  if (v1 && host_v1) {
    unsetenv("SK_CGROUP_ROOT_V2");
    test_v1_limits_and_placement();
    test_v1_oom();
    test_v1_cpu_quota();
    test_v1_kill_all();
    test_v1_errors();
  } else if (v1) {
    tap_skip("v1 tests", "this host is cgroup v2");
  }
  if (v2) {
    const char *root = getenv("SK_CGROUP_ROOT_V2");
    if (root == NULL || *root == '\0')
      root = host_v1 ? mount_of(NULL) : "/sys/fs/cgroup";
    if (*root == '\0') {
      tap_skip("v2 tests", "no cgroup2 mount");
    } else {
      static char saved[256];
      snprintf(saved, sizeof saved, "%s", root);
      setenv("SK_CGROUP_ROOT_V2", saved, 1);
      test_v2(saved);
      cleanup_all();
      n_used = 0;
      test_v2_bad_root();
      unsetenv("SK_CGROUP_ROOT_V2");
    }
  }
  return tap_done();
}
