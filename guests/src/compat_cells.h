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

/* The cell's last line (the verdict) into c; the others, "#" lines, printed */
static void c32_line(struct cell *c, char *line, int *said)
{
	if (!strcmp(line, "PASS")) {
		*said = 1;
	} else if (!strncmp(line, "FAIL: ", 6)) {
		cfail(c, "%s", line + 6);
		*said = 1;
	} else if (!strncmp(line, "SKIP: ", 6)) {
		cskip(c, "%s", line + 6);
		*said = 1;
	} else if (line[0] == '#') {
		printf("%s\n", line);
	} else if (line[0]) {
		printf("# %s: %s\n", c->name, line);
	}
}

static void compat_run(struct cell *c, int k)
{
	int out[2], said = 0, st = 0, required = getenv("COMPAT_REQUIRED") != NULL;
	char buf[4096], *argv[8];
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
	for (;;) {
		struct pollfd p = {out[0], POLLIN, 0};
		ssize_t r;
		char *nl;

		if (poll(&p, 1, 1000) == 0) {
			if (now_s() - t0 < C32_WAIT_S)
				continue;
			kill(pid, SIGKILL);
			cfail(c, "the 32-bit program still ran after %d s: killed", C32_WAIT_S);
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
			if (!strncmp(buf, "EXEC ", 5))
				(required ? cfail : cskip)(c, "cannot exec the 32-bit program %s: %s%s", compat_bin, buf + 5,
							   required ? " (CONFIG_IA32_EMULATION=y)" : "");
			else
				c32_line(c, buf, &said);
			have = nl ? have - (nl + 1 - buf) : 0;
			memmove(buf, nl ? nl + 1 : buf, have + 1);
		}
	}
	close(out[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		cfail(c, "the 32-bit program died of signal %d", WTERMSIG(st));
	else if (!said && !c->skip[0])
		cfail(c, "the 32-bit program said no verdict (exit status %d)", WEXITSTATUS(st));
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
