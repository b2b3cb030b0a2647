#!/usr/bin/env bash
# The Kafka Streams peer's benchmark: builds the jar (once), then runs the driver, which
# creates fresh topics, preloads the commands of `ledgerstream-bench process`, runs the
# peer in its own JVM until every command is committed, and prints commands/s after a
# warm-up, the peer's CPU per command and its heap. Every option goes to the driver:
#
#   ./run.sh                                   # 100,000 deposits over 1,000 accounts, 3 partitions
#   ./run.sh --commands 1500000 --warmup-seconds 10
#   ./run.sh --threads 2 --commit-interval-ms 100 --linger-ms 20 --cache-mib 64
#   ./run.sh --smoke true                      # the rules beyond deposits: repeats, fees, transfers, refunds
#
# Needs the local stack's broker (127.0.0.1:9092) and schema registry (127.0.0.1:8081):
# `make up` from the repository's root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jar="$here/target/peer-kafka-streams.jar"

if [ ! -f "$jar" ] || [ -n "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; then
  echo "building the peer with Maven ..." >&2
  mvn -q -B -f "$here/pom.xml" package -DskipTests >&2
fi

# The broker's process, to report its CPU beside the peer's: whatever listens on 9092.
broker_pid=$(ss -ltnpH 'sport = :9092' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)

cd "$here"
exec java -Xmx2g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$jar" ledgerstream.peer.bench.Bench \
  --schemas "$here/../../schemas/avro" \
  ${broker_pid:+--broker-pid "$broker_pid"} \
  "$@"
