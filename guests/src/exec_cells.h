/* exec/<errno|ok>/<shape>: execve()'s copy of argv and envp into the new program's stack
 * (fs/exec.c copy_strings(): string by string, last first, each page of the new stack faulted
 * in with get_user_pages_remote() and held across strings) on its error exits and at its
 * limits. An exit that forgets the page it holds leaks one page per failed execve(), in no
 * mapping and on no LRU: only the page allocator's counts see it.
 *
 * Failing cells: a forked child calls execve() EXEC_TRIES times, each meant to fail with one
 * errno: E2BIG (a string over MAX_ARG_STRLEN first, in the middle or last of argv, in envp;
 * strings past the stack limit under a small RLIMIT_STACK), EFAULT (a bad pointer in argv, a
 * string running into an unmapped page, envp's array running into one), and failures after
 * every string was copied: ENOEXEC (a file no binfmt takes), ENOENT (a #! script whose
 * interpreter does not exist), EACCES (a file without x). Premise: every try failed with that
 * errno (else FAIL: a wrong errno, or an exec that succeeded, is a kernel bug or a setup we did
 * not mean, and the first one is named). Check: the pages the tries kept allocated (vmstat:
 * pgalloc_* minus pgfree, read by the child before the first and after the last) stay under
 * EXEC_KEPT_MAX; one leaked page per try is EXEC_TRIES pages. The pages oracle also sees them
 * (page_owner: allocated by this process's GUP fault, which has exited).
 * ok cells: execs at the limits (a string of MAX_ARG_STRLEN in argv and in envp, strings up to
 * the stack limit's last byte of a 512 KiB RLIMIT_STACK, strings of 4097 bytes that span
 * pages, 20000 strings of one byte) of /proc/self/exe in its helper mode (exec_helper()), which
 * checks argc, envc and every byte of every string against the pattern they were made from.
 * Part of pin_matrix.c (struct cell, cell_fork(), key_value()).
 */
#include <sys/resource.h>

#define EXEC_TRIES 128
#define EXEC_KEPT_MAX 64  /* pages: healthy runs kept 19 or fewer, a page a try is 128 */
#define EXEC_ARG_MAX (32 * 4096)  /* ARG_MAX: the least room the strings get, whatever the rlimit */
#define EXEC_MAX_STRLEN (32 * 4096)  /* MAX_ARG_STRLEN, with its NUL */
#define EXEC_MARK "PM_EXEC_CHECK="  /* envp's last string: the exec'd pin_matrix is the helper */
#define EXEC_FAILED_BUT_RAN 42  /* the helper's exit when it was exec'd by a try meant to fail */

/* byte j of generated string k: lower-case only (no '=', nothing the loader reads) */
static char exec_byte(long k, long j) { return (char)('a' + (k * 31 + j * 7) % 26); }

/* Generated strings: n of len bytes, then (last >= 0) one of last bytes; numbering from k0 */
static char **exec_strings(long k0, long n, long len, long last, const char *tail)
{
	long total = n + (last >= 0), k;
	char **v = calloc((size_t)total + 2, sizeof(char *));

	for (k = 0; v && k < total; k++) {
		long l = k < n ? len : last;

		if (!(v[k] = malloc((size_t)l + 1)))
			return NULL;  /* the cell fails on NULL; a leak in a dying child is nothing */
		for (long j = 0; j < l; j++)
			v[k][j] = exec_byte(k0 + k, j);
		v[k][l] = 0;
	}
	if (v && tail)
		v[k] = (char *)tail;
	return v;
}

/* Whether every generated string of v from index `from` matches; why not into why */
static int exec_strings_ok(char **v, long from, long k0, long n, long len, long last, char *why, size_t wn)
{
	long total = n + (last >= 0);

	for (long k = 0; k < total; k++) {
		long l = k < n ? len : last;
		const char *s = v[from + k];

		if ((long)strlen(s) != l) {
			snprintf(why, wn, "string %ld is %zu bytes, %ld sent", from + k, strlen(s), l);
			return 0;
		}
		for (long j = 0; j < l; j++)
			if (s[j] != exec_byte(k0 + k, j)) {
				snprintf(why, wn, "string %ld byte %ld is 0x%02x, 0x%02x sent", from + k, j, (unsigned char)s[j],
					 (unsigned char)exec_byte(k0 + k, j));
				return 0;
			}
	}
	return 1;
}

/* The helper mode of pin_matrix, exec'd by the ok cells: argv = {exe, "--exec-check", spec,
 * generated...}, envp = {generated..., EXEC_MARK "ok"}; spec "nargs arglen lastlen nenv envlen"
 * (lastlen -1: none). Returns -1 when not exec'd as the helper, else the exit code: 0 all
 * arrived, 3 a count or byte differs (said on stderr). */
static int exec_helper(int argc, char **argv, char **envp)
{
	long na, al, ll, ne, el, envc = 0;
	char why[160];

	while (envp[envc])
		envc++;
	if (!envc || strncmp(envp[envc - 1], EXEC_MARK, strlen(EXEC_MARK)))
		return -1;
	if (strcmp(envp[envc - 1] + strlen(EXEC_MARK), "ok"))
		return EXEC_FAILED_BUT_RAN;
	if (argc < 3 || strcmp(argv[1], "--exec-check") || sscanf(argv[2], "%ld %ld %ld %ld %ld", &na, &al, &ll, &ne, &el) != 5) {
		fprintf(stderr, "# exec helper: argv[1..2] are not the helper's\n");
		return 3;
	}
	if (argc != 3 + na + (ll >= 0) || envc != ne + 1) {
		fprintf(stderr, "# exec helper: argc %d envc %ld, %ld and %ld sent\n", argc, envc, 3 + na + (ll >= 0), ne + 1);
		return 3;
	}
	if (!exec_strings_ok(argv, 3, 0, na, al, ll, why, sizeof(why)) ||
	    !exec_strings_ok(envp, 0, 1000000, ne, el, -1, why, sizeof(why))) {
		fprintf(stderr, "# exec helper: %s\n", why);
		return 3;
	}
	return 0;
}

/* Pages allocated and not freed, system-wide: the allocator's event counts (exact sums over
 * the CPUs, unlike the nr_ counters) */
static long alloc_net(void)
{
	char key[64];
	long val, net = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return 0;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strncmp(key, "pgalloc_", 8))
			net += val;
		else if (!strcmp(key, "pgfree"))
			net -= val;
	fclose(f);
	return net;
}

/* The pages still allocated since BEFORE once what the tries freed late is back: a failed exec's
 * page tables go through RCU (mmu_gather's table freeing), its slabs through their caches. The
 * least of readings 50 ms apart, until one second passes or a reading is down to ENOUGH (half
 * the cell's limit: a leak of a page a try stays far above it). */
static long alloc_settled(long before, long enough)
{
	long least = alloc_net() - before, now;

	for (int i = 0; i < 20 && least > enough; i++) {
		usleep(50 * 1000);
		if ((now = alloc_net() - before) < least)
			least = now;
	}
	return least;
}

enum xshape { XS_ARGV_FIRST, XS_ARGV_MID, XS_ARGV_LAST, XS_ENVP_MID, XS_STACK, XF_ARGV_PTR, XF_STRING, XF_ENVP_ARRAY,
	      XA_ENOEXEC, XA_SCRIPT, XA_NOEXEC, XO_ARGV_MAX, XO_ENVP_MAX, XO_STACK, XO_SPAN, XO_TINY, NXS };
static const char *const xs_names[NXS] = {
	"e2big/argv-first", "e2big/argv-middle", "e2big/argv-last", "e2big/envp-middle", "e2big/stack-limit",
	"efault/argv-pointer", "efault/string-unmapped", "efault/envp-unterminated", "enoexec/no-binfmt",
	"enoent/script-interpreter", "eacces/not-executable", "ok/argv-max-strlen", "ok/envp-max-strlen",
	"ok/stack-limit", "ok/page-spanning", "ok/tiny-strings"};
static const int xs_errno[NXS] = {E2BIG, E2BIG, E2BIG, E2BIG, E2BIG, EFAULT, EFAULT, EFAULT, ENOEXEC, ENOENT, EACCES};
#define EXEC_SMALL_STACK (512 * 1024)  /* RLIMIT_STACK of the stack-limit shapes: ARG_MAX of room */
#define EXEC_SELF "/proc/self/exe"

/* One exec's arguments (everything malloc'd or mapped is the child's: it exits or execs) */
struct xargs {
	const char *path;
	char **argv, **envp;
	long stack;  /* RLIMIT_STACK to set first, 0: leave it */
	int tries;
};

/* The shape's arguments in the child; 0, or -1 with why */
static int exec_shape(enum xshape s, const char *dir, struct xargs *x, char *why, size_t wn)
{
	static char spec[96], file[160];
	static const char *const files[] = {"pinbench: not an executable, no binfmt takes this\n",
					    "#!/nonexistent/pinbench-interpreter\n", "#!/bin/sh\nexit 0\n"};
	long n, room, last;
	char *page;
	int fd;

	x->path = EXEC_SELF;
	x->tries = EXEC_TRIES;
	x->stack = 0;
	x->envp = exec_strings(1000000, 4, 100, -1, EXEC_MARK "fail");
	switch (s) {
	case XS_ARGV_FIRST:
	case XS_ARGV_MID:
	case XS_ARGV_LAST:
		x->argv = exec_strings(0, 8, 100, -1, NULL);
		if (x->argv)  /* too long by one byte: copy_strings() takes argv last first */
			x->argv[s == XS_ARGV_FIRST ? 0 : s == XS_ARGV_MID ? 4 : 7] = exec_strings(7, 0, 0, EXEC_MAX_STRLEN, NULL)[0];
		break;
	case XS_ENVP_MID:
		x->argv = exec_strings(0, 8, 100, -1, NULL);
		x->envp = exec_strings(1000000, 8, 100, -1, EXEC_MARK "fail");
		if (x->envp)
			x->envp[3] = exec_strings(7, 0, 0, EXEC_MAX_STRLEN, NULL)[0];
		break;
	case XS_STACK:  /* 40 strings of 4000 bytes: past ARG_MAX after 32 or so were copied */
		x->stack = EXEC_SMALL_STACK;
		x->argv = exec_strings(0, 40, 4000, -1, NULL);
		break;
	case XF_ARGV_PTR:  /* last first: argv[7..5] copied, then the bad pointer */
		x->argv = exec_strings(0, 8, 100, -1, NULL);
		if (x->argv)
			x->argv[4] = (char *)16;
		break;
	case XF_STRING:
	case XF_ENVP_ARRAY:  /* a page followed by a hole: no NUL (or no NULL) before the hole */
		page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED || munmap(page + PAGE, PAGE)) {
			snprintf(why, wn, "mmap: %s", strerror(errno));
			return -1;
		}
		x->argv = exec_strings(0, 8, 100, -1, NULL);
		if (s == XF_STRING) {
			memset(page, 'q', PAGE);
			if (x->argv)
				x->argv[4] = page;
		} else {
			char **arr = (char **)(page + PAGE) - 4;

			for (int i = 0; i < 4 && x->envp; i++)
				arr[i] = x->envp[i];  /* no NULL: the array runs into the hole */
			x->envp = arr;
		}
		break;
	case XA_ENOEXEC:
	case XA_SCRIPT:
	case XA_NOEXEC:
		if (!dir) {
			snprintf(why, wn, "no ext4 directory given (-d) for the file to exec");
			return -2;
		}
		snprintf(file, sizeof(file), "%s/exec.%d", dir, getpid());
		fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, s == XA_NOEXEC ? 0644 : 0755);
		n = (long)strlen(files[s - XA_ENOEXEC]);
		if (fd < 0 || write(fd, files[s - XA_ENOEXEC], (size_t)n) != n || fchmod(fd, s == XA_NOEXEC ? 0644 : 0755) ||
		    close(fd)) {
			snprintf(why, wn, "cannot write %.100s: %s", file, strerror(errno));
			return -1;
		}
		x->path = file;
		x->argv = exec_strings(0, 8, 100, -1, NULL);
		break;
	default:  /* the ok shapes: the helper checks what arrives */
		x->tries = 2;
		n = 0, last = -1;
		long al = 0, ne = 4, el = 100;

		switch (s) {
		case XO_ARGV_MAX: last = EXEC_MAX_STRLEN - 1; break;
		case XO_ENVP_MAX: ne = 1, el = EXEC_MAX_STRLEN - 1; break;
		case XO_SPAN: n = 64, al = 4097; break;
		case XO_TINY: n = 20000, al = 1, x->tries = 1; break;
		default:  /* XO_STACK: everything copied (the path with it) fills the limit to its last byte */
			x->stack = EXEC_SMALL_STACK;
			n = 30, al = 4000;
			room = EXEC_ARG_MAX - (long)sizeof(void *) * (3 + n + 1 + ne + 1);
			/* the path (copied first) and argv[0], "--exec-check", the spec, the strings, NULs */
			last = room - 2 * (long)sizeof(EXEC_SELF) - (long)sizeof("--exec-check") - 32 -
			       n * (al + 1) - ne * (el + 1) - (long)sizeof(EXEC_MARK "ok") - 1;
		}
		snprintf(spec, sizeof(spec), "%ld %ld %ld %ld %ld", n, al, last, ne, el);
		memset(spec + strlen(spec), ' ', 31 - strlen(spec));  /* 31 bytes and a NUL, whatever the numbers */
		spec[31] = 0;
		char **gen = exec_strings(0, n, al, last, NULL);

		x->argv = calloc((size_t)(n + (last >= 0) + 4), sizeof(char *));
		x->envp = exec_strings(1000000, ne, el, -1, EXEC_MARK "ok");
		if (!gen || !x->argv)
			break;
		x->argv[0] = EXEC_SELF;
		x->argv[1] = "--exec-check";
		x->argv[2] = spec;
		memcpy(x->argv + 3, gen, sizeof(char *) * (size_t)(n + (last >= 0)));
	}
	if (!x->argv || !x->envp) {
		snprintf(why, wn, "out of memory");
		return -1;
	}
	return 0;
}

/* The child: tries execs; exit 0 as meant (the failing shapes), else a code with why on the pipe
 * (an ok shape's exec does not come back: the helper's exit is the verdict) */
static void exec_child(enum xshape s, const char *dir, int out)
{
	struct xargs x = {0};
	char why[200] = "";
	int r = exec_shape(s, dir, &x, why, sizeof(why)), bad = 0;
	long before = alloc_net();  /* after the shape's own allocations */

	if (r == 0 && x.stack && setrlimit(RLIMIT_STACK, &(struct rlimit){x.stack, x.stack})) {
		snprintf(why, sizeof(why), "setrlimit(RLIMIT_STACK): %s", strerror(errno));
		r = -1;
	}
	for (int i = 0; r == 0 && i < x.tries; i++) {
		if (s >= XO_ARGV_MAX) {  /* one exec each fork: the helper runs and exits */
			pid_t p = fork();
			int st = 0;

			if (p == 0) {
				execve(x.path, x.argv, x.envp);
				_exit(100 + (errno & 0x3f));
			}
			if (p < 0 || waitpid(p, &st, 0) != p) {
				snprintf(why, sizeof(why), "fork/wait: %s", strerror(errno));
				r = -1;
			} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;

				snprintf(why, sizeof(why), "%s", code >= 100 ? strerror(code - 100) : code == 3 ?
					 "the exec'd helper found argv/envp not as sent (its stderr says where)" :
					 "the exec'd helper ended abnormally");
				if (code >= 100)
					snprintf(why, sizeof(why), "execve at the limit failed: %s", strerror(code - 100));
				else
					snprintf(why + strlen(why), sizeof(why) - strlen(why), " (status 0x%x)", st);
				r = -3;
			}
			continue;
		}
		execve(x.path, x.argv, x.envp);  /* meant to fail */
		if (errno != xs_errno[s] && !bad++) {
			snprintf(why, sizeof(why), "try %d failed with %s, not %s", i, strerror(errno), strerror(xs_errno[s]));
			r = -3;
		}
	}
	if (r == 0 && s < XO_ARGV_MAX)  /* the ok shapes exec twice: too few to count a page a try */
		snprintf(why, sizeof(why), "%ld", alloc_settled(before, EXEC_KEPT_MAX / 2));
	if (x.path != (const char *)EXEC_SELF && r != -2)
		unlink(x.path);
	if (why[0] && write(out, why, strlen(why)) < 0)
		_exit(1);
	_exit(r == 0 ? 0 : r == -2 ? 2 : 3);
}

static void exec_cell(struct cell *c, int k)
{
	enum xshape s = (enum xshape)k;
	int p[2];
	char why[256] = "";
	long kept = 0;
	pid_t pid;
	int st = 0;
	ssize_t n;

	if (pipe(p)) {
		cfail(c, "pipe: %s", strerror(errno));
		return;
	}
	if ((pid = cell_fork()) == 0) {
		close(p[0]);
		exec_child(s, ext4_dir, p[1]);
	}
	close(p[1]);
	n = pid > 0 ? read(p[0], why, sizeof(why) - 1) : 0;
	why[n > 0 ? n : 0] = 0;
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		cfail(c, "fork/wait: %s", strerror(errno));
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == EXEC_FAILED_BUT_RAN)
		cfail(c, "an execve() meant to fail with %s ran the program", strerror(xs_errno[s]));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		cskip(c, "%s", why);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		cfail(c, "%s (child status 0x%x)", why[0] ? why : "the child ended abnormally", st);
	else if ((kept = atol(why)) > EXEC_KEPT_MAX)
		cfail(c, "%d execve()s that failed kept %ld page(s) allocated (pgalloc - pgfree over them; most %d)",
		      EXEC_TRIES, kept, EXEC_KEPT_MAX);
	if (!c->failed[0] && !c->skip[0] && s < XO_ARGV_MAX)
		printf("# %s: %ld page(s) kept over the tries (pgalloc - pgfree)\n", c->name, kept);
}

static void exec_cells(void)
{
	static const struct cell_entry table[] = {{"exec/", exec_cell, xs_names, NXS}};

	run_cells(table, 1, NULL, NULL);
}
