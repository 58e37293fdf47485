#!/bin/sh
# Printed by `make run` before the server starts: where it listens and what
# to try next.
dir=${1:-var}
conf="$dir/postie.conf"
port() { build/postie -c "$conf" config show "$1" | sed 's/.*:\([0-9]*\)$/\1/; s/,.*//'; }
smtp=$(port smtp_listen)
cat <<MSG

postie is starting with the instance in $dir/ (configuration: $conf).
Listeners:
$(build/postie -c "$conf" config show smtp_listen submission_listen \
    submissions_listen lmtp_listen imap_listen imaps_listen pop3_listen \
    pop3s_listen | sed 's/^/  /')

In another terminal, try:
  build/postie -c $conf domain add example.test
  echo secret | build/postie -c $conf user add me@example.test
  build/postie -c $conf lookup me@example.test
  swaks --server 127.0.0.1:$smtp --to me@example.test --from you@elsewhere.test
  ls $dir/mail/example.test/me/new/
  build/postie -c $conf queue list

Stop with Ctrl-C.
MSG
