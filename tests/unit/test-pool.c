/* test-pool: lib/pool.c, region allocation. Allocations are zeroed, aligned
 * and never overlap; child pools go with their parent or may go first; the
 * leak checker of the ASan build verifies that pool_free releases it all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/pool.h"

/* A named test whose name states the behaviour. */
#define T(name, fn)	{ name, fn, NULL, NULL, NULL }

#define ALIGN		16
#define FATAL_EXIT_MARK	77

static bool	all_zero(const unsigned char *p, size_t n);
static void	test_many_small(void **state);
static void	test_sizes_zeroed(void **state);
static void	test_zero_size(void **state);
static void	test_large(void **state);
static void	test_large_first(void **state);
static void	test_strdup(void **state);
static void	test_strndup(void **state);
static void	test_printf(void **state);
static void	test_children_freed_with_parent(void **state);
static void	test_child_freed_first(void **state);
static void	test_free_sets_null(void **state);
static void	exit_marked(void);
static void	test_absurd_size(void **state);

static bool
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Many small allocations: aligned, zeroed, and none overlaps another
 * (each is filled with its own pattern and checked at the end). */
static void
test_many_small(void **state)
{
	enum { N = 20000 };
	struct pool *p = pool_new(NULL);
	unsigned char **ptrs;
	size_t i, size;

	(void)state;
	ptrs = calloc(N, sizeof(*ptrs));
	assert_non_null(ptrs);
	for (i = 0; i < N; i++) {
		size = 1 + i % 100;
		ptrs[i] = pool_alloc(p, size);
		assert_non_null(ptrs[i]);
		assert_int_equal((uintptr_t)ptrs[i] % ALIGN, 0);
		assert_true(all_zero(ptrs[i], size));
		memset(ptrs[i], (int)(i & 0xff), size);
	}
	for (i = 0; i < N; i++) {
		size_t j;

		size = 1 + i % 100;
		for (j = 0; j < size; j++)
			assert_int_equal(ptrs[i][j], i & 0xff);
	}
	free(ptrs);
	pool_free(&p);
}

/* Every size around the block and "large" boundaries comes back zeroed
 * and writable to its last byte (ASan catches a short block). */
static void
test_sizes_zeroed(void **state)
{
	struct pool *p = pool_new(NULL);
	unsigned char *m;
	size_t size;

	(void)state;
	for (size = 1; size <= 4200; size++) {
		m = pool_alloc(p, size);
		assert_int_equal((uintptr_t)m % ALIGN, 0);
		assert_true(all_zero(m, size));
		memset(m, 0xa5, size);
	}
	pool_free(&p);
}

static void
test_zero_size(void **state)
{
	struct pool *p = pool_new(NULL);
	void *a, *b;

	(void)state;
	a = pool_alloc(p, 0);
	b = pool_alloc(p, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	pool_free(&p);
}

/* Large allocations get their own block; the small ones around them keep
 * filling the current block and are not disturbed. */
static void
test_large(void **state)
{
	static const size_t sizes[] = { 1001, 3999, 4000, 4001, 65536,
	    1024 * 1024, 10 * 1024 * 1024 };
	struct pool *p = pool_new(NULL);
	unsigned char *big, *small_before, *small_after;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		small_before = pool_alloc(p, 32);
		memset(small_before, 0x11, 32);
		big = pool_alloc(p, sizes[i]);
		assert_int_equal((uintptr_t)big % ALIGN, 0);
		assert_true(all_zero(big, sizes[i]));
		memset(big, 0xee, sizes[i]);
		small_after = pool_alloc(p, 32);
		assert_true(all_zero(small_after, 32));
		memset(small_after, 0x22, 32);
		assert_true(small_before[0] == 0x11 &&
		    small_before[31] == 0x11);
		assert_true(big[0] == 0xee && big[sizes[i] - 1] == 0xee);
	}
	pool_free(&p);
}

static void
test_large_first(void **state)
{
	struct pool *p = pool_new(NULL);
	unsigned char *big, *big2, *small;

	(void)state;
	big = pool_alloc(p, 100000);
	small = pool_alloc(p, 10);
	big2 = pool_alloc(p, 200000);
	memset(big, 1, 100000);
	memset(small, 2, 10);
	memset(big2, 3, 200000);
	assert_int_equal(big[99999], 1);
	assert_int_equal(small[9], 2);
	pool_free(&p);
}

static void
test_strdup(void **state)
{
	struct pool *p = pool_new(NULL);
	char *s, *big;
	char src[] = "mailbox";

	(void)state;
	s = pool_strdup(p, src);
	assert_string_equal(s, "mailbox");
	assert_ptr_not_equal(s, src);
	src[0] = 'M';
	assert_string_equal(s, "mailbox");
	assert_string_equal(pool_strdup(p, ""), "");

	big = malloc(5001);
	assert_non_null(big);
	memset(big, 'q', 5000);
	big[5000] = '\0';
	s = pool_strdup(p, big);
	assert_int_equal(strlen(s), 5000);
	assert_string_equal(s, big);
	free(big);
	pool_free(&p);
}

static void
test_strndup(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 n;
		const char	*want;
	} cases[] = {
		{ "n shorter than the string cuts it", "abcdef", 3, "abc" },
		{ "n equal to the length copies all", "abcdef", 6, "abcdef" },
		{ "n longer than the string stops at the NUL", "abc", 100,
		  "abc" },
		{ "n of SIZE_MAX stops at the NUL", "abc", SIZE_MAX, "abc" },
		{ "n of zero gives the empty string", "abc", 0, "" },
		{ "empty input gives the empty string", "", 5, "" },
	};
	struct pool *p = pool_new(NULL);
	const char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case \"%s\"\n", cases[i].name);
		s = pool_strndup(p, cases[i].in, cases[i].n);
		assert_string_equal(s, cases[i].want);
	}
	/* Input without a NUL inside n is never read past n. */
	{
		char raw[4] = { 'w', 'x', 'y', 'z' };

		s = pool_strndup(p, raw, sizeof(raw));
		assert_string_equal(s, "wxyz");
	}
	pool_free(&p);
}

static void
test_printf(void **state)
{
	struct pool *p = pool_new(NULL);
	char *s;

	(void)state;
	s = pool_printf(p, "%s@%s", "user", "example.org");
	assert_string_equal(s, "user@example.org");
	s = pool_printf(p, "%llu-%05d", 18446744073709551615ULL, 42);
	assert_string_equal(s, "18446744073709551615-00042");
	s = pool_printf(p, "%s", "");
	assert_string_equal(s, "");
	s = pool_printf(p, "%6000s|", "end");
	assert_int_equal(strlen(s), 6001);
	assert_string_equal(s + 5997, "end|");
	pool_free(&p);
}

/* The ASan build's leak checker fails the run if anything survives. */
static void
test_children_freed_with_parent(void **state)
{
	struct pool *root = pool_new(NULL), *child, *grandchild;
	int i, j;

	(void)state;
	for (i = 0; i < 5; i++) {
		child = pool_new(root);
		pool_strdup(child, "child");
		pool_alloc(child, 50000);
		for (j = 0; j < 3; j++) {
			grandchild = pool_new(child);
			pool_printf(grandchild, "grandchild %d.%d", i, j);
			(void)pool_new(grandchild);	/* empty pool */
		}
	}
	pool_free(&root);
	assert_null(root);
}

static void
test_child_freed_first(void **state)
{
	struct pool *root = pool_new(NULL);
	struct pool *c[4], *again;
	char *kept;
	int i;

	(void)state;
	kept = pool_strdup(root, "kept in root");
	for (i = 0; i < 4; i++) {
		c[i] = pool_new(root);
		pool_printf(c[i], "child %d", i);
		(void)pool_new(c[i]);
	}
	/* Children are linked newest first: free from the middle, then the
	 * head, then the tail, so each unlink path runs. */
	pool_free(&c[1]);
	assert_null(c[1]);
	pool_free(&c[3]);
	pool_free(&c[0]);
	/* The parent is still usable and can take new children. */
	again = pool_new(root);
	assert_string_equal(pool_strdup(again, "again"), "again");
	assert_string_equal(kept, "kept in root");
	pool_free(&again);
	pool_free(&c[2]);
	/* A command pool per command, as the protocols use them. */
	for (i = 0; i < 1000; i++) {
		again = pool_new(root);
		pool_alloc(again, (size_t)i * 7);
		pool_free(&again);
	}
	pool_free(&root);
}

static void
test_free_sets_null(void **state)
{
	struct pool *p = pool_new(NULL), *none = NULL;

	(void)state;
	pool_free(&p);
	assert_null(p);
	pool_free(&p);		/* freeing NULL is a no-op */
	pool_free(&none);
	assert_null(none);
}

/* fatalx() ends in exit(1); ASan also exits 1 on a heap overflow, so the
 * child marks the orderly exit with its own status. */
static void
exit_marked(void)
{
	_exit(FATAL_EXIT_MARK);
}

/* A size near SIZE_MAX is our bug, never a reason to write past a block:
 * the process must stop in fatalx, not corrupt the heap. */
static void
test_absurd_size(void **state)
{
	static const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - 20,
	    SIZE_MAX - 40, SIZE_MAX - 47 };
	struct pool *p;
	size_t i;
	pid_t pid;
	int status;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fflush(NULL);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			/* The fatalx line is expected; keep it off the log. */
			if (null == -1 || dup2(null, STDERR_FILENO) == -1 ||
			    atexit(exit_marked) != 0)
				_exit(2);
			p = pool_new(NULL);
			(void)pool_alloc(p, sizes[i]);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) ||
		    WEXITSTATUS(status) != FATAL_EXIT_MARK)
			fail_msg("pool_alloc(SIZE_MAX - %zu): child status "
			    "%#x, want the fatalx exit", SIZE_MAX - sizes[i],
			    status);
	}
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		T("many small allocations are aligned, zeroed, disjoint",
		    test_many_small),
		T("every size up to past a block is zeroed and fully writable",
		    test_sizes_zeroed),
		T("zero-size allocations are distinct", test_zero_size),
		T("large allocations do not disturb small ones", test_large),
		T("a large first allocation leaves the pool usable",
		    test_large_first),
		T("pool_strdup copies, short and long", test_strdup),
		T("pool_strndup stops at n or at the NUL", test_strndup),
		T("pool_printf formats short and long output", test_printf),
		T("child pools are freed with their parent",
		    test_children_freed_with_parent),
		T("a child freed before its parent unlinks itself",
		    test_child_freed_first),
		T("pool_free sets the pointer to NULL, accepts NULL",
		    test_free_sets_null),
		T("a size near SIZE_MAX exits through fatalx",
		    test_absurd_size),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
