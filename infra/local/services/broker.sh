# shellcheck shell=bash
# The broker: Apache Kafka, one KRaft node that is broker and controller, run from
# the jars infra/kafka/pom.xml names (Maven Central), on 127.0.0.1:9092 with the
# controller on 127.0.0.1:9093. Data under $LS_HOME/broker, formatted once. The
# ports can be moved (LEDGERSTREAM_BROKER_PORT, LEDGERSTREAM_CONTROLLER_PORT): tests
# that kill and restart a broker run one of their own beside the stack's.
#
# Secured listeners, beside the PLAINTEXT one (which the stack's own checks use):
#   LEDGERSTREAM_BROKER_SASL_SSL_PORT        SASL_SSL: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN logins
#   LEDGERSTREAM_BROKER_SASL_PLAINTEXT_PORT  SASL_PLAINTEXT: the same logins, no TLS
#   LEDGERSTREAM_BROKER_SSL_PORT             SSL with a client certificate required (mTLS)
#   LEDGERSTREAM_BROKER_TLS_DIR              their certificates, made by infra/local/kafka_tls.sh
#   LEDGERSTREAM_BROKER_SCRAM_USER           a user: SCRAM credentials created (Admin API)
#   LEDGERSTREAM_BROKER_SCRAM_PASSWORD_FILE  once the broker is ready; PLAIN's from the file

BROKER_PORT=${LEDGERSTREAM_BROKER_PORT:-9092}
CONTROLLER_PORT=${LEDGERSTREAM_CONTROLLER_PORT:-9093}
SASL_SSL_PORT=${LEDGERSTREAM_BROKER_SASL_SSL_PORT:-}
SASL_PLAINTEXT_PORT=${LEDGERSTREAM_BROKER_SASL_PLAINTEXT_PORT:-}
SSL_PORT=${LEDGERSTREAM_BROKER_SSL_PORT:-}
TLS_DIR=${LEDGERSTREAM_BROKER_TLS_DIR:-}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$LS_ROOT/infra/kafka/pom.xml")
KAFKA_LIBS=$LS_TOOLS/kafka-$KAFKA_VERSION/libs
# The heap stays within 1 GiB; G1 with Kafka's own start script settings.
KAFKA_JVM_OPTS=(-Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35 -Djava.awt.headless=true)

broker_port() { printf '%s' "$BROKER_PORT"; }

broker_install() {
  java_toolchain # the readiness check is a single-file Java program
  # The marker holds the pom it was made from: a changed pom fetches again.
  if [ -f "$KAFKA_LIBS/.installed" ] && cmp -s "$KAFKA_LIBS/.installed" "$LS_ROOT/infra/kafka/pom.xml"; then
    return 0
  fi
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS (once per machine)"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  mvn -q -B -f "$LS_ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" ||
    die "fetching Apache Kafka $KAFKA_VERSION with Maven failed; see the output above (is Maven Central reachable?)"
  cp "$LS_ROOT/infra/kafka/pom.xml" "$KAFKA_LIBS/.installed"
}

# Writes the node's settings; every start writes them anew, so a change here takes
# effect at the next `make up` without touching the data.
broker_config() {
  local dir=$1
  local listeners="PLAINTEXT://127.0.0.1:$BROKER_PORT" protocols="PLAINTEXT:PLAINTEXT"
  if [ -n "$SASL_SSL_PORT" ]; then
    listeners+=",SASL_SSL://127.0.0.1:$SASL_SSL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  if [ -n "$SASL_PLAINTEXT_PORT" ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT"
    protocols+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [ -n "$SSL_PORT" ]; then
    listeners+=",SSL://127.0.0.1:$SSL_PORT"
    protocols+=",SSL:SSL"
  fi
  cat >"$dir/server.properties" <<PROPERTIES
# Written by infra/local/services/broker.sh at each start; edit that file instead.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
listener.security.protocol.map=$protocols,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are made by \`ledgerstream topics create\` with their partition counts; a
# typo in a topic name fails instead of creating a stray topic.
auto.create.topics.enable=false
PROPERTIES
  if [ -n "$SASL_SSL_PORT$SSL_PORT" ]; then broker_tls_config "$dir"; fi
  if [ -n "$SASL_SSL_PORT$SASL_PLAINTEXT_PORT" ]; then broker_sasl_config "$dir"; fi
  cat >"$dir/log4j2.properties" <<'PROPERTIES'
# Written by infra/local/services/broker.sh: everything to standard output, which
# the stack sends to its logs folder.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
PROPERTIES
}

# The secured listeners' settings, appended to server.properties. The store
# password is written there (Kafka reads it from nowhere else): the file is the
# owner's only.
broker_tls_config() {
  local dir=$1
  [[ -n "$TLS_DIR" && -f "$TLS_DIR/broker.p12" ]] ||
    die "a secured listener needs LEDGERSTREAM_BROKER_TLS_DIR with the broker's certificates; make them with: infra/local/kafka_tls.sh DIR"
  local password
  password=$(cat "$TLS_DIR/store.password")
  chmod 600 "$dir/server.properties"
  cat >>"$dir/server.properties" <<PROPERTIES
# Secured listeners (LEDGERSTREAM_BROKER_SASL_SSL_PORT, LEDGERSTREAM_BROKER_SSL_PORT).
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$password
ssl.key.password=$password
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS_DIR/broker.truststore.p12
ssl.truststore.password=$password
listener.name.ssl.ssl.client.auth=required
PROPERTIES
}

# The SASL listeners' logins, appended to server.properties: SCRAM users live in
# the cluster metadata (broker_scram_user); PLAIN's user and password are in the
# login module's settings (Kafka hides them in its logs), so the file is the
# owner's only.
broker_sasl_config() {
  local dir=$1 listener plain=""
  local user=${LEDGERSTREAM_BROKER_SCRAM_USER:-} file=${LEDGERSTREAM_BROKER_SCRAM_PASSWORD_FILE:-}
  if [[ -n "$user" && -r "$file" ]]; then
    local password
    password=$(head -n 1 "$file")
    plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_$user=\"$password\";"
  fi
  chmod 600 "$dir/server.properties"
  printf 'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512%s\n' "${plain:+,PLAIN}" >>"$dir/server.properties"
  for listener in sasl_ssl sasl_plaintext; do
    cat >>"$dir/server.properties" <<PROPERTIES
listener.name.$listener.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$listener.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPERTIES
    [ -z "$plain" ] || printf 'listener.name.%s.plain.sasl.jaas.config=%s\n' "$listener" "$plain" >>"$dir/server.properties"
  done
}

broker_start() {
  [ -f "$KAFKA_LIBS/.installed" ] || die "Apache Kafka is not installed; run: infra/local/stack.sh install broker"
  local dir=$LS_HOME/broker
  mkdir -p "$dir"
  broker_config "$dir"
  local classpath="$KAFKA_LIBS/*"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$classpath" kafka.tools.StorageTool random-uuid) ||
      die "kafka-storage random-uuid failed; is Java 17 installed (java -version)?"
    mkdir -p "$LS_LOGS"
    java -cp "$classpath" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
      kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$dir/server.properties" \
      >>"$(log_file broker)" 2>&1 ||
      die "formatting the broker's storage in $dir/data failed; see $(log_file broker)"
  fi
  start_daemon broker "$dir" java "${KAFKA_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$classpath" kafka.Kafka "$dir/server.properties"
}

# Answers ApiVersions and Metadata: cheap, for `status` and the start-up wait.
broker_healthy() { python3 "$LS_ROOT/infra/local/kafka_ping.py" "127.0.0.1:$BROKER_PORT" 1 2>/dev/null; }

# Ready for the pipeline: transactions and consumer groups work (KafkaReady.java).
broker_ready() {
  java -cp "$KAFKA_LIBS/*" "$LS_ROOT/infra/kafka/KafkaReady.java" "127.0.0.1:$BROKER_PORT" "$READY_SECONDS" >&2 ||
    die "the broker answers but is not ready for transactions and groups; see $(log_file broker)"
  broker_scram_user
}

# Creates LEDGERSTREAM_BROKER_SCRAM_USER through the Admin API on the PLAINTEXT
# listener (ScramUser.java), the password read from its file, never an argument.
broker_scram_user() {
  local user=${LEDGERSTREAM_BROKER_SCRAM_USER:-}
  [ -n "$user" ] || return 0
  local file=${LEDGERSTREAM_BROKER_SCRAM_PASSWORD_FILE:-}
  [[ -n "$file" && -r "$file" ]] ||
    die "LEDGERSTREAM_BROKER_SCRAM_USER needs LEDGERSTREAM_BROKER_SCRAM_PASSWORD_FILE, a readable file holding the password"
  java -cp "$KAFKA_LIBS/*" "$LS_ROOT/infra/kafka/ScramUser.java" "127.0.0.1:$BROKER_PORT" "$user" "$file" >&2 ||
    die "creating SCRAM user $user failed; see the output above and $(log_file broker)"
}
