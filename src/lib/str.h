/* str: small string helpers shared by every module: bounded number parsing,
 * sizes and durations as people write them, lists, and the split of a mail
 * address into local part and domain. */
#ifndef POSTIE_STR_H
#define POSTIE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NULL-terminated, heap-owned vector of heap-owned strings. */
struct strv {
	char	**v;
	size_t	  n;
};

void	strv_push(struct strv *sv, const char *s);
void	strv_free(struct strv *sv);
bool	strv_contains_nocase(const struct strv *sv, const char *s);
/* Split on commas and white space; empty items are dropped. */
void	strv_split(struct strv *sv, const char *s);
char	*strv_join(const struct strv *sv, const char *sep);

/* Decimal with bounds; the whole string must be the number. */
int	str_to_u64(const char *s, uint64_t max, uint64_t *r)
	    __attribute__((warn_unused_result));
/* "10M", "1G", "512k", "1024" (bytes; K = 1024). */
int	str_to_size(const char *s, uint64_t *r) __attribute__((warn_unused_result));
/* "30s", "5m", "4h", "5d", "300" (seconds). */
int	str_to_duration(const char *s, uint64_t *r)
	    __attribute__((warn_unused_result));
/* "yes/no/true/false/on/off/1/0". */
int	str_to_bool(const char *s, bool *r) __attribute__((warn_unused_result));
/* Human forms for output: 1G, 10M, 4h. */
void	str_from_size(uint64_t v, char *out, size_t outlen);
void	str_from_duration(uint64_t v, char *out, size_t outlen);

void	str_lower(char *s);
/* Replace control characters with '?' so client text cannot forge log
 * lines. */
void	str_sanitize(char *s);
char	*str_trim(char *s);

/*
 * A mail address as stored in the directory: local@domain, no quoting,
 * domain lower-cased. addr_split() checks the shape (exactly one '@' that
 * is not first for a user address, a valid domain) and returns pointers
 * into a heap copy the caller frees.
 */
bool	valid_domain(const char *d);
bool	valid_local_part(const char *l);
int	addr_split(const char *addr, char **local_r, char **domain_r,
	    const char **error_r) __attribute__((warn_unused_result));
/* local@domain with the domain lower-cased; NULL if not an address. */
char	*addr_normalize(const char *addr, const char **error_r);

#endif
