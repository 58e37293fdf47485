/* tls: server contexts and self-signed certificates (see tls.h). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/tls.h"

static int	add_ext(X509 *cert, int nid, const char *value);
static int	write_pem_key(const char *path, EVP_PKEY *key);

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file,
    const char **error_r)
{
	static char errbuf[256];
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*error_r = "cannot create TLS context";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(errbuf, sizeof(errbuf), "%s / %s: %s", cert_file,
		    key_file, ERR_reason_error_string(ERR_get_error()));
		*error_r = errbuf;
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int r;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

static int
write_pem_key(const char *path, EVP_PKEY *key)
{
	FILE *fp;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
	return fclose(fp) == 0 && ok ? 0 : -1;
}

int
tls_selfsigned_create(const char *cert_file, const char *key_file,
    const char *hostname, const char **error_r)
{
	static char san[300];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	FILE *fp = NULL;
	int rc = -1;

	*error_r = "cannot create the certificate";
	if ((key = EVP_RSA_gen(2048)) == NULL || (cert = X509_new()) == NULL)
		goto out;
	if (snprintf(san, sizeof(san), "DNS:%s", hostname) >= (int)sizeof(san)) {
		*error_r = "host name too long";
		goto out;
	}
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 86400);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (add_ext(cert, NID_subject_alt_name, san) == -1 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") == -1 ||
	    X509_sign(cert, key, EVP_sha256()) == 0)
		goto out;
	if (write_pem_key(key_file, key) == -1) {
		*error_r = "cannot write the key file";
		goto out;
	}
	if ((fp = fopen(cert_file, "wx")) == NULL ||
	    PEM_write_X509(fp, cert) != 1) {
		*error_r = "cannot write the certificate file";
		goto out;
	}
	rc = 0;
out:
	if (fp != NULL && fclose(fp) != 0)
		rc = -1;
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

const char *
tls_describe(const SSL *ssl, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return out;
}
