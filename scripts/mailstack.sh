#!/usr/bin/env bash
# A real mail stack on loopback for tests and the demo: Dovecot (IMAP and
# LMTP) and OpenSMTPD (SMTP, delivering into Dovecot over LMTP), from
# Debian's packages, in a folder of their own, on free ports.
#
#   scripts/mailstack.sh install        install the packages if missing
#   scripts/mailstack.sh start DIR      start; writes DIR/mailstack.env (IMAP_PORT, IMAPS_PORT, SMTP_PORT,
#                                       SUBMISSION_PORT, SUBMISSIONS_PORT, LMTP_PORT, MAIL_PASSWORD, TLS_CA)
#   scripts/mailstack.sh stop DIR       stop both, by pid
#   scripts/mailstack.sh stop-smtp DIR / start-smtp DIR
#                                       stop or restart only OpenSMTPD, on the same port
#   scripts/mailstack.sh restart-imap DIR
#                                       stop Dovecot and start it again, on the same ports
#
# SMTP_PORT takes mail without a login (a local relay); SUBMISSION_PORT is
# Dovecot's submission service, which wants a login (PLAIN, LOGIN, or XOAUTH2
# and OAUTHBEARER when started with OAUTH_INTROSPECTION_URL set: Dovecot then
# checks each token by POSTing it to that URL, RFC 7662 style, and accepts
# {"active": true, "email": USER}) and relays through OpenSMTPD.
# IMAP_LAYOUT picks the folder layout: slash (separator "/", the default),
# maildir (separator "."), courier (separator "." under the prefix "INBOX.").
# OpenSMTPD names itself SMTPD_HOSTNAME in the Received lines it writes when
# that is set (tests play the organisation's receiving server with it).
# TLS: a CA made for the run (TLS_CA, a PEM file) signs a certificate for
# localhost and 127.0.0.1; IMAP_PORT and SUBMISSION_PORT offer STARTTLS,
# IMAPS_PORT and SUBMISSIONS_PORT speak TLS from the start.
# Mail to any address at reject.example is refused with a 550, so tests can
# see a permanent failure.
# Every address gets its own mailbox (user = full address); any address
# logs in with the password in DIR/mailstack.env. Needs root (Dovecot drops to the
# `mail` user; OpenSMTPD uses its fixed queue in /var/spool/smtpd, so run one
# stack per machine: `start` empties that queue first).
set -euo pipefail

install() {
  local missing=()
  command -v dovecot >/dev/null || missing+=(dovecot-imapd dovecot-lmtpd)
  [ -e /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
  [ -e /usr/lib/dovecot/submission ] || missing+=(dovecot-submissiond)
  command -v smtpd >/dev/null || missing+=(opensmtpd)
  command -v openssl >/dev/null || missing+=(openssl)
  # the DNS server the DKIM tests publish their keys on
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# A free port below the kernel's ephemeral range, so that no outgoing
# connection (a test's client, billmail's own) can take it as its source
# port between this choice and the server's bind; from the ephemeral range
# itself only when nothing below it is left.
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(10000, low - 1) if low > 10001 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    chosen = s.getsockname()[1]
    s.close()
    print(chosen)
    break
PY
}

wait_port() {
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "mailstack: nothing listens on port $1; see $2" >&2
  return 1
}

start() {
  local dir
  dir=$(realpath -m "$1")
  install
  stop "$dir" 2>/dev/null || true
  mkdir -p "$dir/dovecot/run" "$dir/dovecot/state" "$dir/mail" "$dir/smtpd"
  chown mail:mail "$dir/mail"
  chmod 0755 "$dir" "$dir/dovecot"
  local imap smtp lmtp submission imaps submissions
  imap=$(free_port); smtp=$(free_port); lmtp=$(free_port); submission=$(free_port)
  imaps=$(free_port); submissions=$(free_port)
  make_certs "$dir/tls"
  local password=secret
  local mechanisms="plain login" oauth_passdb=""
  if [ -n "${OAUTH_INTROSPECTION_URL:-}" ]; then
    mechanisms="plain login xoauth2 oauthbearer"
    cat > "$dir/dovecot/oauth2.conf.ext" <<CONF
introspection_mode = post
introspection_url = $OAUTH_INTROSPECTION_URL
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
CONF
    oauth_passdb="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/dovecot/oauth2.conf.ext
}"
  fi

  # the folder layout of real servers: IMAP_LAYOUT=slash (Exchange, Gmail;
  # the default), maildir (Dovecot's Maildir++ default, separator "."), or
  # courier (separator "." under the prefix "INBOX.", as Courier and cPanel)
  local namespace
  case "${IMAP_LAYOUT:-slash}" in
    slash) namespace="  separator = /" ;;
    maildir) namespace="  separator = ." ;;
    courier) namespace=$'  separator = .\n  prefix = INBOX.' ;;
    *) echo "IMAP_LAYOUT must be slash, maildir or courier" >&2; exit 2 ;;
  esac
  cat > "$dir/dovecot/dovecot.conf" <<CONF
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
log_path = $dir/dovecot/dovecot.log
protocols = imap lmtp submission
listen = 127.0.0.1
ssl = yes
ssl_cert = <$dir/tls/server.pem
ssl_key = <$dir/tls/server.key
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = $mechanisms
auth_username_format = %Lu
hostname = mail.test.example
submission_relay_host = 127.0.0.1
submission_relay_port = $smtp
mail_location = maildir:$dir/mail/%u
mail_uid = mail
mail_gid = mail
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = static
  mechanisms = plain login
  args = password=$password
}
$oauth_passdb
userdb {
  driver = static
  args = uid=mail gid=mail home=$dir/mail/%u allow_all_users=yes
}
namespace inbox {
  inbox = yes
$namespace
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $submission
  }
  inet_listener submissions {
    address = 127.0.0.1
    port = $submissions
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
protocol lmtp {
  postmaster_address = postmaster@localhost
}
CONF

  cat > "$dir/smtpd/smtpd.conf" <<CONF
table vusers file:$dir/smtpd/virtuals
smtp limit max-mails 100000
smtp limit max-rcpt 100000
listen on 127.0.0.1 port $smtp${SMTPD_HOSTNAME:+ hostname $SMTPD_HOSTNAME}
action "dovecot" lmtp "127.0.0.1:$lmtp" rcpt-to virtual <vusers>
match from any for domain "reject.example" reject
match from any for any action "dovecot"
CONF
  echo "@ mail" > "$dir/smtpd/virtuals"

  dovecot -F -c "$dir/dovecot/dovecot.conf" > "$dir/dovecot/stdout.log" 2>&1 &
  echo $! > "$dir/dovecot.pid"
  wait_port "$imap" "$dir/dovecot/dovecot.log"
  wait_port "$lmtp" "$dir/dovecot/dovecot.log"
  wait_port "$submission" "$dir/dovecot/dovecot.log"
  wait_port "$imaps" "$dir/dovecot/dovecot.log"
  wait_port "$submissions" "$dir/dovecot/dovecot.log"

  # a message left in the fixed queue by an earlier run must not arrive here
  if [ -d /var/spool/smtpd ]; then
    find /var/spool/smtpd -mindepth 2 -type f -delete 2>/dev/null || true
  fi
  start_smtpd "$dir" "$smtp"

  cat > "$dir/mailstack.env" <<ENV
IMAP_PORT=$imap
IMAPS_PORT=$imaps
SMTP_PORT=$smtp
SUBMISSION_PORT=$submission
SUBMISSIONS_PORT=$submissions
TLS_CA=$dir/tls/ca.pem
LMTP_PORT=$lmtp
MAIL_PASSWORD=$password
ENV
  echo "mail stack up in $dir: IMAP 127.0.0.1:$imap, SMTP 127.0.0.1:$smtp, submission 127.0.0.1:$submission (password $password)"
}

# A CA of the run's own and a certificate it signs for localhost and 127.0.0.1.
make_certs() {
  local t=$1
  mkdir -p "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
    -keyout "$t/ca.key" -out "$t/ca.pem" -subj "/CN=billmail test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -out "$t/server.pem" -days 3 -extfile "$t/server.ext" 2>/dev/null
  chmod 0600 "$t/ca.key" "$t/server.key"
}

start_smtpd() {
  smtpd -d -f "$1/smtpd/smtpd.conf" >> "$1/smtpd/smtpd.log" 2>&1 &
  echo $! > "$1/smtpd.pid"
  wait_port "$2" "$1/smtpd/smtpd.log"
}

stop_pid() {
  if [ -f "$1" ]; then
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
  fi
}

stop() {
  local dir
  dir=$(realpath -m "$1")
  stop_pid "$dir/smtpd.pid"
  stop_pid "$dir/dovecot.pid"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: mailstack.sh start DIR}" ;;
  stop) stop "${2:?usage: mailstack.sh stop DIR}" ;;
  stop-smtp) stop_pid "$(realpath -m "${2:?usage: mailstack.sh stop-smtp DIR}")/smtpd.pid" ;;
  restart-imap)
    d=$(realpath -m "${2:?usage: mailstack.sh restart-imap DIR}")
    . "$d/mailstack.env"
    stop_pid "$d/dovecot.pid"
    dovecot -F -c "$d/dovecot/dovecot.conf" >> "$d/dovecot/stdout.log" 2>&1 &
    echo $! > "$d/dovecot.pid"
    wait_port "$IMAP_PORT" "$d/dovecot/dovecot.log" ;;
  start-smtp)
    d=$(realpath -m "${2:?usage: mailstack.sh start-smtp DIR}")
    . "$d/mailstack.env"
    start_smtpd "$d" "$SMTP_PORT" ;;
  *) echo "usage: mailstack.sh install | start DIR | stop DIR" >&2; exit 2 ;;
esac
