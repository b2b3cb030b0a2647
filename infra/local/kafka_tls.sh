#!/usr/bin/env bash
# Makes the certificates of a TLS-secured local broker, with openssl and keytool:
#
#   DIR/ca.pem, ca.key             a CA of its own (the clients' LEDGERSTREAM_KAFKA_SSL_CA_FILE)
#   DIR/broker.p12                 the broker's key and certificate (CN and SAN 127.0.0.1,
#                                  localhost), signed by that CA, as a PKCS12 keystore
#   DIR/broker.truststore.p12      the CA, as the broker's truststore (client certificates)
#   DIR/store.password             the password of both stores
#   DIR/client.pem, client.key     a client certificate (CN=ledgerstream) and its
#                                  unencrypted key, for mTLS (LEDGERSTREAM_KAFKA_SSL_CERT_FILE,
#                                  LEDGERSTREAM_KAFKA_SSL_KEY_FILE)
#
# usage: infra/local/kafka_tls.sh DIR [DAYS]   (DIR is made; existing files are replaced)
# For a local or test broker only: a production cluster's certificates come from
# its own CA. Keys are written readable by their owner only.
set -euo pipefail

dir=${1:?usage: infra/local/kafka_tls.sh DIR [DAYS]}
days=${2:-30}
for tool in openssl keytool; do
  command -v "$tool" >/dev/null || {
    printf 'error: %s is missing; install it: sudo apt-get install -y %s\n' "$tool" \
      "$([ "$tool" = openssl ] && echo openssl || echo openjdk-17-jdk-headless)" >&2
    exit 1
  }
done
mkdir -p "$dir"
cd "$dir"
umask 077

openssl rand -hex 16 >store.password
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=ledgerstream local CA" \
  -keyout ca.key -out ca.pem 2>/dev/null

# issue NAME SUBJECT [SAN]: NAME.key and NAME.pem, signed by the CA.
issue() {
  local name=$1 subject=$2 san=${3:-}
  openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  local ext=$name.ext
  : >"$ext"
  [ -n "$san" ] && printf 'subjectAltName=%s\n' "$san" >"$ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

issue broker "/CN=127.0.0.1" "IP:127.0.0.1,DNS:localhost"
openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
  -passout "file:store.password" -out broker.p12
rm -f broker.truststore.p12
keytool -importcert -noprompt -alias ca -file ca.pem -storetype PKCS12 \
  -keystore broker.truststore.p12 -storepass "$(cat store.password)" >/dev/null 2>&1
issue client "/CN=ledgerstream"
chmod 644 ca.pem client.pem
printf 'certificates in %s: ca.pem, broker.p12, broker.truststore.p12, client.pem, client.key\n' "$dir" >&2
