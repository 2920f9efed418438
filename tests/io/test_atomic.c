/* Tests of the atomic output files (src/io/atomic.c), in both of its ways: the unnamed
 * O_TMPFILE temporary (the default on Linux) and the named mkstemp temporary (as on a file
 * system without O_TMPFILE, forced by ps_io_atomic_named_only_). The expected folder
 * listings and modes follow from the policy at the top of atomic.c: while a file is written
 * the folder holds no entry for it in the first way and exactly one ".<name>.XXXXXX" in the
 * second; after a commit only the destination, after an abort nothing new. */
#include "ps_io.h"
#include "ps_test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* io_internal.h (not included: its nifti1.h defines DT_UNKNOWN, which <dirent.h> needs) */
void ps_io_atomic_named_only_(int on);

static char dir[4096];

static void make_dir(void)
{
    const char *tmp = getenv("PS_TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/atomic_XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Entries of dir other than . and .., and how many start with "." */
static int count_entries(int *hidden)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    *hidden = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (e->d_name[0] == '.')
            (*hidden)++;
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    ps_atomic_file *af = NULL;
    ck_assert_int_eq(ps_atomic_open(path, &af), PS_OK);
    fputs(text, ps_atomic_stream(af));
    ck_assert_int_eq(ps_atomic_commit(af), PS_OK);
}

/* One new file: the folder's entries while it is written, after the commit, and its mode
 * (0666 less the umask, as fopen would give). */
static void new_file(int named)
{
    ps_io_atomic_named_only_(named);
    make_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    ps_atomic_file *af = NULL;
    ck_assert_int_eq(ps_atomic_open(path, &af), PS_OK);
    fputs("a,b\n1,2\n", ps_atomic_stream(af));
    fflush(ps_atomic_stream(af));
    int hidden, n = count_entries(&hidden);
    ck_assert_int_eq(n, named);      /* unnamed: nothing; named: its .out.csv.XXXXXX */
    ck_assert_int_eq(hidden, named);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(ps_atomic_commit(af), PS_OK);
    n = count_entries(&hidden);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(hidden, 0);
    ck_assert_str_eq(slurp(path), "a,b\n1,2\n");
    mode_t um = umask(0);
    umask(um);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0666 & ~um);
    ps_io_atomic_named_only_(0);
}

START_TEST(unnamed_new_file)
{
    new_file(0);
}
END_TEST

START_TEST(named_new_file)
{
    new_file(1);
}
END_TEST

/* An existing file: replaced keeping its mode (0640); an aborted write leaves it as it was
 * and no temporary; a symbolic link stays a link and its target is replaced. */
static void existing_file(int named)
{
    ps_io_atomic_named_only_(named);
    make_dir();
    char path[4200], link[4200];
    snprintf(path, sizeof path, "%s/t.tsv", dir);
    snprintf(link, sizeof link, "%s/l.tsv", dir);
    write_text(path, "old\n");
    ck_assert_int_eq(chmod(path, 0640), 0);
    write_text(path, "new\n");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    ck_assert_str_eq(slurp(path), "new\n");

    ps_atomic_file *af = NULL;
    ck_assert_int_eq(ps_atomic_open(path, &af), PS_OK);
    fputs("half", ps_atomic_stream(af));
    ps_atomic_abort(af);
    ck_assert_str_eq(slurp(path), "new\n");
    int hidden, n = count_entries(&hidden);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(hidden, 0);

    ck_assert_int_eq(symlink("t.tsv", link), 0);
    write_text(link, "via link\n");
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_str_eq(slurp(path), "via link\n");
    n = count_entries(&hidden);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(hidden, 0);
    ps_io_atomic_named_only_(0);
}

START_TEST(unnamed_existing_file)
{
    existing_file(0);
}
END_TEST

START_TEST(named_existing_file)
{
    existing_file(1);
}
END_TEST

/* A child writing a file is killed by SIGKILL before its commit: with the unnamed temporary
 * the folder is left empty; with the named one its .x.csv.XXXXXX stays (why the default is
 * unnamed). */
static int killed_leftovers(int named)
{
    ps_io_atomic_named_only_(named);
    make_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/x.csv", dir);
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ps_atomic_file *af = NULL;
        if (ps_atomic_open(path, &af))
            _exit(3);
        fputs("rows\n", ps_atomic_stream(af));
        fflush(ps_atomic_stream(af));
        if (write(go[1], "k", 1) != 1)
            _exit(4);
        pause();
        _exit(5);
    }
    char c;
    ck_assert_int_eq(read(go[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(go[0]);
    close(go[1]);
    ps_io_atomic_named_only_(0);
    int hidden, n = count_entries(&hidden);
    ck_assert_int_eq(n, hidden);
    return n;
}

START_TEST(sigkill_leaves_nothing)
{
    ck_assert_int_eq(killed_leftovers(0), 0);
    ck_assert_int_eq(killed_leftovers(1), 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("io_atomic");
    TCase *tc = tcase_create("atomic");
    tcase_add_test(tc, unnamed_new_file);
    tcase_add_test(tc, named_new_file);
    tcase_add_test(tc, unnamed_existing_file);
    tcase_add_test(tc, named_existing_file);
    tcase_add_test(tc, sigkill_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

PS_TEST_MAIN(make_suite)
