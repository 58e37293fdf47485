/* conf: the configuration. One table (conf-keys.c) defines every key: name,
 * type, default, bounds, group and one line of docs. The parser, `postie
 * config show` and the key reference in docs/configuration.md all come from
 * it. The master parses; children inherit the parsed result. */
#ifndef POSTIE_CONF_H
#define POSTIE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/str.h"

#define CONF_DEFAULT_PATH	"/etc/postie/postie.conf"
#define CONF_FILE_MAX		(1024 * 1024)
#define CONF_LINE_MAX		4096

/* Field names are the key names (STYLE.md 3). */
struct config {
	char		*config_file;	/* absolute path it was read from */

	/* general */
	char		*hostname;
	char		*data_dir;
	char		*mail_root;
	char		*mail_user;
	uint64_t	 worker_processes;
	uint64_t	 offload_threads;

	/* logging */
	bool		 log_syslog;
	char		*syslog_facility;
	struct strv	 log_debug;

	/* tls */
	char		*tls_cert_file;
	char		*tls_key_file;

	/* listeners */
	struct strv	 smtp_listen;
	struct strv	 submission_listen;
	struct strv	 submissions_listen;
	struct strv	 lmtp_listen;
	char		*lmtp_socket_mode;
	struct strv	 imap_listen;
	struct strv	 imaps_listen;
	struct strv	 pop3_listen;
	struct strv	 pop3s_listen;

	/* smtp */
	uint64_t	 max_message_size;
	uint64_t	 smtp_max_recipients;
	uint64_t	 smtp_max_errors;
	uint64_t	 smtp_max_connections;
	uint64_t	 smtp_max_connections_per_ip;
	uint64_t	 smtp_timeout;
	uint64_t	 smtp_data_timeout;
	uint64_t	 max_received_headers;
	struct strv	 mynetworks;
	struct strv	 relay_domains;
	struct strv	 relay_recipients;
	bool		 smtp_auth_on_port_25;
	bool		 smtp_sender_login_check;
	uint64_t	 auth_max_failures;
	uint64_t	 auth_failure_window;

	/* imap */
	uint64_t	 imap_timeout;
	uint64_t	 imap_max_connections;
	uint64_t	 imap_max_connections_per_ip;
	uint64_t	 imap_max_errors;
	bool		 plaintext_auth_from_loopback;

	/* pop3 */
	uint64_t	 pop3_timeout;
	uint64_t	 pop3_max_connections;
	uint64_t	 pop3_max_connections_per_ip;

	/* queue and delivery */
	uint64_t	 delivery_concurrency;
	uint64_t	 queue_minimal_backoff;
	uint64_t	 queue_maximal_backoff;
	uint64_t	 maximal_queue_lifetime;
	uint64_t	 delay_warning_time;
	uint64_t	 bounce_size_limit;
	char		*postmaster_address;
	bool		 quota_exceeded_temporary;
	bool		 plus_folder_delivery;
	struct strv	 defer_transports;

	/* remote delivery */
	char		*dns_server;
	char		*smtp_helo_name;
	uint64_t	 smtp_remote_port;
	struct strv	 mx_self_names;
	char		*relayhost;
	char		*relayhost_username;
	char		*relayhost_password;
	char		*relayhost_tls;
	char		*smtp_tls_security_level;
	struct strv	 smtp_tls_policy;
	char		*transport_file;
	uint64_t	 smtp_destination_concurrency_limit;
	uint64_t	 smtp_concurrency_limit;
	uint64_t	 smtp_connect_timeout;

	/* directory */
	char		*directory_backend;
	char		*sqlite_path;
	char		*recipient_delimiter;
	uint64_t	 alias_max_depth;
	uint64_t	 alias_max_targets;

	/* directory: PostgreSQL and MySQL (directory_backend pgsql, mysql) */
	struct strv	 sql_hosts;
	char		*sql_dbname;
	char		*sql_user;
	char		*sql_password;
	char		*sql_query_set;
	bool		 sql_read_only;
	char		*sql_domain_query;
	char		*sql_user_query;
	char		*sql_alias_query;
	char		*sql_domain_add_query;
	char		*sql_domain_del_query;
	char		*sql_domain_active_query;
	char		*sql_domain_list_query;
	char		*sql_user_add_query;
	char		*sql_user_del_query;
	char		*sql_user_password_query;
	char		*sql_user_quota_query;
	char		*sql_user_active_query;
	char		*sql_user_list_query;
	char		*sql_alias_add_query;
	char		*sql_alias_del_query;
	char		*sql_alias_list_query;
	uint64_t	 sql_connect_timeout;
	uint64_t	 sql_query_timeout;
	uint64_t	 sql_reconnect_max_delay;
	uint64_t	 sql_cache_ttl;
	uint64_t	 sql_cache_negative_ttl;
	uint64_t	 sql_cache_stale_ttl;
	uint64_t	 sql_cache_size;
};

enum conf_type {
	CONF_STRING,	/* free text */
	CONF_PATH,	/* relative to data_dir (data_dir: to the file) */
	CONF_ENUM,	/* one of the words in .choices */
	CONF_NUMBER,	/* decimal, min..max */
	CONF_SIZE,	/* bytes: 10M, 1G */
	CONF_DURATION,	/* seconds: 30s, 5m, 4h, 5d */
	CONF_BOOL,	/* yes/no */
	CONF_LIST,	/* comma or space separated words */
};

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	const char	*group;
	const char	*def;		/* default, as it would be written */
	uint64_t	 min, max;	/* NUMBER, SIZE, DURATION */
	const char	*choices;	/* ENUM: "a|b|c" */
	size_t		 offset;	/* into struct config */
	const char	*doc;		/* one line */
};

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

/* Defaults only (data_dir: dir_hint, or the current directory). */
void	conf_defaults(struct config *cfg, const char *dir_hint);
/* Read and check a file; on error *error_r is "file:line: key: reason". */
int	conf_load(const char *path, struct config *cfg, char **error_r)
	    __attribute__((warn_unused_result));
/* Parse text (fuzzing, tests); file names the source in errors. */
int	conf_parse(const char *file, const char *dir, const char *text,
	    size_t len, struct config *cfg, char **error_r)
	    __attribute__((warn_unused_result));
void	conf_free(struct config *cfg);

/* Print "key = value" for every key (only changed ones if !all). */
void	conf_show(FILE *fp, const struct config *cfg, bool all);
/* The value of one key as text (heap). */
char	*conf_value_string(const struct config *cfg, const struct conf_key *k);
const struct conf_key *conf_key_find(const char *name);
/* Markdown reference of every key (docs/configuration.md). */
void	conf_doc(FILE *fp);

#endif
