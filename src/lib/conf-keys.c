/* conf-keys: the table of every configuration key. Adding a key means adding
 * a field to struct config and one row here; docs/configuration.md is
 * regenerated from this table (`postie config doc`), and a test fails when a
 * key is missing from it. */
#include <stddef.h>

#include "lib/conf.h"

#define OFF(f)	offsetof(struct config, f)
#define NOLIM	0, 0, NULL

const struct conf_key conf_keys[] = {
	/* general */
	{ "hostname", CONF_STRING, "general", "", NOLIM, OFF(hostname),
	  "Name of this mail host in greetings, Received headers and bounces; empty means the system host name." },
	{ "data_dir", CONF_PATH, "general", ".", NOLIM, OFF(data_dir),
	  "Instance directory holding the queue, the database and TLS keys; relative to the configuration file." },
	{ "mail_root", CONF_PATH, "general", "mail", NOLIM, OFF(mail_root),
	  "Root of the mailboxes: `<mail_root>/<domain>/<localpart>/` in Maildir format; relative to data_dir." },
	{ "mail_user", CONF_STRING, "general", "", NOLIM, OFF(mail_user),
	  "Unprivileged user the children run as when started as root; empty means the owner of data_dir." },
	{ "worker_processes", CONF_NUMBER, "general", "0", 0, 256, NULL, OFF(worker_processes),
	  "Protocol worker processes, each serving every listener on one event loop; 0 means one per CPU core." },
	{ "offload_threads", CONF_NUMBER, "general", "4", 1, 64, NULL, OFF(offload_threads),
	  "Threads per process for blocking work (password hashing, database queries, fsync)." },

	/* logging */
	{ "log_syslog", CONF_BOOL, "logging", "no", NOLIM, OFF(log_syslog),
	  "Also log to syslog (standard error is always used by `postie serve`)." },
	{ "syslog_facility", CONF_ENUM, "logging", "mail", 0, 0,
	  "mail|daemon|local0|local1|local2|local3|local4|local5|local6|local7",
	  OFF(syslog_facility), "Syslog facility when log_syslog is on." },
	{ "log_debug", CONF_LIST, "logging", "", NOLIM, OFF(log_debug),
	  "Debug categories to trace: main, smtp, imap, pop3, queue, dir, tls, or all." },

	/* tls */
	{ "tls_cert_file", CONF_PATH, "tls", "tls/cert.pem", NOLIM, OFF(tls_cert_file),
	  "PEM certificate chain for every TLS listener and STARTTLS; relative to data_dir." },
	{ "tls_key_file", CONF_PATH, "tls", "tls/key.pem", NOLIM, OFF(tls_key_file),
	  "PEM private key for tls_cert_file; read by the master before privileges are dropped." },

	/* listeners */
	{ "smtp_listen", CONF_LIST, "listeners", "*:25", NOLIM, OFF(smtp_listen),
	  "Addresses for inbound SMTP (MX), as host:port, [v6]:port or *:port; empty disables." },
	{ "submission_listen", CONF_LIST, "listeners", "*:587", NOLIM, OFF(submission_listen),
	  "Addresses for message submission with STARTTLS and AUTH (RFC 6409)." },
	{ "submissions_listen", CONF_LIST, "listeners", "*:465", NOLIM, OFF(submissions_listen),
	  "Addresses for submission over implicit TLS (RFC 8314)." },
	{ "lmtp_listen", CONF_LIST, "listeners", "", NOLIM, OFF(lmtp_listen),
	  "Addresses for LMTP delivery from another MTA: host:port or unix:/path." },
	{ "imap_listen", CONF_LIST, "listeners", "*:143", NOLIM, OFF(imap_listen),
	  "Addresses for IMAP with STARTTLS." },
	{ "imaps_listen", CONF_LIST, "listeners", "*:993", NOLIM, OFF(imaps_listen),
	  "Addresses for IMAP over implicit TLS." },
	{ "pop3_listen", CONF_LIST, "listeners", "*:110", NOLIM, OFF(pop3_listen),
	  "Addresses for POP3 with STLS." },
	{ "pop3s_listen", CONF_LIST, "listeners", "*:995", NOLIM, OFF(pop3s_listen),
	  "Addresses for POP3 over implicit TLS." },

	/* smtp */
	{ "max_message_size", CONF_SIZE, "smtp", "25M", 1024, 4ULL << 30, NULL,
	  OFF(max_message_size),
	  "Largest message accepted, checked at MAIL (SIZE=) and while receiving; a domain may set a lower one." },
	{ "smtp_max_recipients", CONF_NUMBER, "smtp", "1000", 1, 100000, NULL,
	  OFF(smtp_max_recipients),
	  "Recipients per message; the next RCPT gets 452 4.5.3." },
	{ "smtp_max_errors", CONF_NUMBER, "smtp", "10", 1, 1000, NULL,
	  OFF(smtp_max_errors),
	  "Protocol errors per session before 421 and disconnect." },
	{ "smtp_max_connections", CONF_NUMBER, "smtp", "1000", 1, 1000000, NULL,
	  OFF(smtp_max_connections),
	  "SMTP connections (all SMTP listeners) open at once in the whole server." },
	{ "smtp_max_connections_per_ip", CONF_NUMBER, "smtp", "50", 1, 1000000, NULL,
	  OFF(smtp_max_connections_per_ip),
	  "SMTP connections open at once from one client address." },
	{ "smtp_timeout", CONF_DURATION, "smtp", "5m", 1, 3600, NULL,
	  OFF(smtp_timeout),
	  "How long to wait for the next command (RFC 5321 4.5.3.2: at least 5 minutes)." },
	{ "smtp_data_timeout", CONF_DURATION, "smtp", "10m", 1, 3600, NULL,
	  OFF(smtp_data_timeout),
	  "How long to wait for more message data during DATA or BDAT." },
	{ "max_received_headers", CONF_NUMBER, "smtp", "100", 1, 10000, NULL,
	  OFF(max_received_headers),
	  "A message with more Received headers has looped and is refused (554 5.4.6)." },
	{ "mynetworks", CONF_LIST, "smtp", "127.0.0.0/8, [::1]/128", NOLIM,
	  OFF(mynetworks),
	  "Client networks trusted to relay without authentication, as address/prefix." },
	{ "relay_domains", CONF_LIST, "smtp", "", NOLIM, OFF(relay_domains),
	  "Other domains accepted from anyone and relayed to their MX (this host is their backup MX)." },
	{ "smtp_auth_on_port_25", CONF_BOOL, "smtp", "no", NOLIM,
	  OFF(smtp_auth_on_port_25),
	  "Offer AUTH on the MX port too (after STARTTLS); submission always offers it." },
	{ "smtp_sender_login_check", CONF_BOOL, "smtp", "yes", NOLIM,
	  OFF(smtp_sender_login_check),
	  "Authenticated clients may use as MAIL FROM only their own address or an alias of it." },
	{ "auth_max_failures", CONF_NUMBER, "smtp", "5", 1, 1000, NULL,
	  OFF(auth_max_failures),
	  "Failed logins from one address within auth_failure_window before its logins are refused." },
	{ "auth_failure_window", CONF_DURATION, "smtp", "15m", 1, 86400, NULL,
	  OFF(auth_failure_window),
	  "Window for counting failed logins, and how long an address stays refused." },

	/* directory */
	{ "directory_backend", CONF_ENUM, "directory", "sqlite", 0, 0, "sqlite",
	  OFF(directory_backend),
	  "Where domains, users and aliases live: the embedded SQLite database." },
	{ "sqlite_path", CONF_PATH, "directory", "postie.db", NOLIM, OFF(sqlite_path),
	  "SQLite database file (WAL mode, created on first use); relative to data_dir." },
	{ "recipient_delimiter", CONF_STRING, "directory", "+", NOLIM,
	  OFF(recipient_delimiter),
	  "Characters that separate an address extension: user+tag@domain reaches user@domain; empty disables." },
	{ "alias_max_depth", CONF_NUMBER, "directory", "20", 1, 100, NULL,
	  OFF(alias_max_depth),
	  "How deeply aliases may point to aliases before the expansion fails as a loop." },
	{ "alias_max_targets", CONF_NUMBER, "directory", "1000", 1, 100000, NULL,
	  OFF(alias_max_targets),
	  "Most final destinations one address may expand to." },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
