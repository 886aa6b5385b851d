#!/usr/bin/env bash
# A throwaway IMAP server for the inbound mail tests: Debian's dovecot-imapd on loopback only,
# plain IMAP (no TLS: nothing leaves 127.0.0.1), one test user, maildirs under a temp folder.
#
#   scripts/dovecot-test.sh start   start it (again: restarted empty) and print the line to export
#   scripts/dovecot-test.sh stop    stop it and remove its folder
#   scripts/dovecot-test.sh url     print TEST_IMAP_URL for a running server
#
# Then: export TEST_IMAP_URL=imap://caseapp-test:secret@127.0.0.1:10143/INBOX; make test
# Needs `apt-get install dovecot-imapd` (the system service may stay stopped: this one is
# separate). Runs as root (CI) or as an ordinary user. DOVECOT_TEST_PORT and DOVECOT_TEST_DIR
# change the port (default 10143) and the folder.
set -euo pipefail

PORT=${DOVECOT_TEST_PORT:-10143}
DIR=${DOVECOT_TEST_DIR:-${TMPDIR:-/tmp}/caseapp-dovecot-$(id -un)}
TEST_USER=caseapp-test
TEST_PASSWORD=secret
DOVECOT=${DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}
URL="imap://${TEST_USER}:${TEST_PASSWORD}@127.0.0.1:${PORT}/INBOX"

write_config() {
  local login_user internal_user mail_uid mail_gid
  if [ "$(id -u)" = 0 ]; then
    # dovecot refuses mail access as root: the mailboxes belong to its own system user.
    login_user=dovenull internal_user=dovecot
    mail_uid=$(id -u dovecot) mail_gid=$(id -g dovecot)
  else
    login_user=$(id -un) internal_user=$(id -un)
    mail_uid=$(id -u) mail_gid=$(id -g)
  fi
  mkdir -p "$DIR/run" "$DIR/state" "$DIR/mail"
  chmod 755 "$DIR" "$DIR/run"
  echo "${TEST_USER}:{PLAIN}${TEST_PASSWORD}::::::" > "$DIR/users"
  chmod 644 "$DIR/users"
  if [ "$(id -u)" = 0 ]; then chown "$mail_uid:$mail_gid" "$DIR/mail"; fi
  cat > "$DIR/dovecot.conf" <<EOF
# Written by scripts/dovecot-test.sh: a test server on loopback, nothing else.
instance_name = caseapp-test-$PORT
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once (the tests try one), not after the usual 2 s.
auth_failure_delay = 0
default_login_user = $login_user
default_internal_user = $internal_user
first_valid_uid = $mail_uid
last_valid_uid = $mail_uid
mail_location = maildir:$DIR/mail/%u
mail_uid = $mail_uid
mail_gid = $mail_gid
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid home=$DIR/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
  if [ "$(id -u)" != 0 ]; then
    # Not root: the sockets dovecot gives its own group by default cannot be chowned.
    for listener in stats/stats-writer imap-hibernate/imap-hibernate dict/dict dict-async/dict-async; do
      printf 'service %s {\n  unix_listener %s {\n    group =\n  }\n}\n' \
        "${listener%/*}" "${listener#*/}" >> "$DIR/dovecot.conf"
    done
    # ...and only root may chroot its login and anvil processes.
    printf 'service %s {\n  chroot =\n}\n' imap-login anvil >> "$DIR/dovecot.conf"
  fi
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

stop() {
  if [ -f "$DIR/dovecot.conf" ]; then
    "$DOVECOT" -c "$DIR/dovecot.conf" stop 2>/dev/null || true
    for _ in $(seq 50); do listening || break; sleep 0.1; done
  fi
  rm -rf "$DIR"
}

start() {
  if [ ! -x "$DOVECOT" ]; then
    echo "dovecot is not installed: apt-get install dovecot-imapd" >&2
    exit 1
  fi
  stop
  if listening; then
    echo "port $PORT on 127.0.0.1 is taken by something else: set DOVECOT_TEST_PORT" >&2
    exit 1
  fi
  write_config
  "$DOVECOT" -c "$DIR/dovecot.conf"
  for _ in $(seq 100); do listening && break; sleep 0.1; done
  if ! listening; then
    echo "dovecot did not start; its log:" >&2
    cat "$DIR/dovecot.log" >&2 || true
    exit 1
  fi
  echo "export TEST_IMAP_URL=$URL"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
