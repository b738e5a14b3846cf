/* compat/...: 32-bit (compat) system calls over user pages. Part of pin_matrix.c (struct cell,
 * run_cells(), cell_fork(), ext4_dir, blk_dev), entered by compat_cells() from main. Each cell
 * runs in guests/src/compat32.c, a program built with gcc -m32 (pin-matrix.sh passes it with
 * -3), so that its system calls take the i386 entry: iovec arrays read as compat_iovec,
 * io_uring with ctx->compat, compat ptrace. The cells are listed once, in compat_list.h;
 * compat32.c says what each does. Here: the cell's program is exec'd with its name, its stdout
 * (and stderr) read from a pipe: "#" lines are passed on, its last line is the verdict (PASS,
 * FAIL: why, SKIP: why). A program that dies, says nothing or cannot be exec'd fails the cell
 * (when the kernel has IA32_EMULATION: COMPAT_REQUIRED, set by pin-matrix.sh; else it skips);
 * without the program (no gcc -m32 on the host: bench doctor names gcc-multilib) every cell
 * skips saying so. */
#include <poll.h>

static const char *compat_bin;  /* -3: the 32-bit program */
#define C32_WAIT_S 120  /* a cell's program still running after this is killed: the cell fails */

#define C32_CELL(name, fn, quick) name,
static const char *const c32_names[] = {
#include "compat_list.h"
};
#undef C32_CELL
#define C32_CELL(name, fn, quick) (quick) ? "compat/" name : "",
static const char *const c32_quick[] = {
#include "compat_list.h"
};
#undef C32_CELL

/* A line of the program: a verdict (PASS, FAIL: why, SKIP: why) kept in last (the last one
 * counts); "#" lines printed, others printed with the cell's name */
static void c32_line(struct cell *c, const char *line, char *last, size_t size)
{
	if (!strcmp(line, "PASS") || !strncmp(line, "FAIL: ", 6) || !strncmp(line, "SKIP: ", 6))
		snprintf(last, size, "%s", line);
	else if (line[0] == '#')
		printf("%s\n", line);
	else if (line[0])
		printf("# %s: %s\n", c->name, line);
}

/* The program runs in a process group of its own (with the peer or tracee it forks): a program
 * still running after C32_WAIT_S, or left after its output ended, is killed with its group.
 * The verdict: its last PASS/FAIL/SKIP line, given it exited 0; a signal or another exit status
 * fails the cell whatever it said. */
static void compat_run(struct cell *c, int k)
{
	int out[2], st = 0, required = getenv("COMPAT_REQUIRED") != NULL, exec_failed = 0, reaped = 0;
	char buf[4096], last[sizeof(buf)] = "", *argv[8];
	size_t have = 0;
	double t0 = now_s();
	pid_t pid;
	int n = 0;

	if (pipe(out)) {
		cfail(c, "pipe: %s", strerror(errno));
		return;
	}
	argv[n++] = (char *)compat_bin;
	if (ext4_dir)
		argv[n++] = "-d", argv[n++] = (char *)ext4_dir;
	if (blk_dev)
		argv[n++] = "-b", argv[n++] = (char *)blk_dev;
	argv[n++] = (char *)c32_names[k];
	argv[n] = NULL;
	pid = cell_fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		execv(compat_bin, argv);
		printf("EXEC %s\n", strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	close(out[1]);
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		close(out[0]);
		return;
	}
	setpgid(pid, pid);  /* (either side may be first) */
	term_group = pid;
	for (;;) {
		struct pollfd p = {out[0], POLLIN, 0};
		ssize_t r;
		char *nl;

		if (poll(&p, 1, 1000) == 0) {
			if (now_s() - t0 < C32_WAIT_S)
				continue;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			cfail(c, "the 32-bit program still ran after %d s: killed with its process group", C32_WAIT_S);
			break;
		}
		r = read(out[0], buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += r;
		buf[have] = 0;
		while ((nl = strchr(buf, '\n')) || have == sizeof(buf) - 1) {
			if (nl)
				*nl = 0;
			if (!strncmp(buf, "EXEC ", 5)) {
				exec_failed = 1;
				(required ? cfail : cskip)(c, "cannot exec the 32-bit program %s: %s%s", compat_bin, buf + 5,
							   required ? " (CONFIG_IA32_EMULATION=y)" : "");
			} else {
				c32_line(c, buf, last, sizeof(last));
			}
			have = nl ? have - (nl + 1 - buf) : 0;
			memmove(buf, nl ? nl + 1 : buf, have + 1);
		}
	}
	close(out[0]);
	/* its output ended (or it was killed): reaped within 10 s, else killed with its group */
	for (int i = 0; i < 100 && !reaped; i++) {
		reaped = waitpid(pid, &st, WNOHANG) == pid;
		if (!reaped)
			usleep(100 * 1000);
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		reaped = waitpid(pid, &st, 0) == pid;
		cfail(c, "the 32-bit program closed its output but still ran 10 s later: killed");
	}
	kill(-pid, SIGKILL);  /* a peer or tracee it left (none: ESRCH) */
	term_group = 0;
	if (exec_failed || c->failed[0])
		return;
	if (!reaped)
		cfail(c, "waitpid of the 32-bit program: %s", strerror(errno));
	else if (WIFSIGNALED(st))
		cfail(c, "the 32-bit program died of signal %d%s%s", WTERMSIG(st), last[0] ? " after: " : "", last);
	else if (WEXITSTATUS(st))
		cfail(c, "the 32-bit program exited %d%s%s", WEXITSTATUS(st), last[0] ? " after: " : "", last);
	else if (!strncmp(last, "FAIL: ", 6))
		cfail(c, "%s", last + 6);
	else if (!strncmp(last, "SKIP: ", 6))
		cskip(c, "%s", last + 6);
	else if (strcmp(last, "PASS"))
		cfail(c, "the 32-bit program said no verdict (exit status 0)");
}

/* Nonzero (the cell judged) when there is no 32-bit program */
static int compat_missing(struct cell *c, void *unused)
{
	if (compat_bin && *compat_bin)
		return 0;
	cskip(c, "no 32-bit program: gcc -m32 could not build guests/src/compat32.c on the host (apt-get install "
	      "gcc-multilib: bench doctor says so)");
	return 1;
}

static void compat_cells(void)
{
	static const struct cell_entry t[] = {
		{"compat/", compat_run, c32_names, sizeof(c32_names) / sizeof(c32_names[0]), c32_quick,
		 sizeof(c32_quick) / sizeof(c32_quick[0])}};

	run_cells(t, 1, compat_missing, NULL);
}
