/* tls: OpenSSL set-up shared by every listener: the server context (loaded
 * by the master before privileges are dropped) and the self-signed
 * certificate that `postie init` creates. */
#ifndef POSTIE_TLS_H
#define POSTIE_TLS_H

#include <openssl/ssl.h>

/* TLS 1.2+, the key and certificate chain from PEM files. */
SSL_CTX	*tls_server_ctx_new(const char *cert_file, const char *key_file,
	    const char **error_r);
/* A self-signed certificate for hostname (CN and SAN), valid 10 years;
 * the key file is written mode 0600. */
int	 tls_selfsigned_create(const char *cert_file, const char *key_file,
	    const char *hostname, const char **error_r)
	    __attribute__((warn_unused_result));
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and Received headers. */
const char *tls_describe(const SSL *ssl, char *out, size_t outlen);

#endif
