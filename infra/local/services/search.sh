# shellcheck shell=bash
# History search: OpenSearch, one node, run from the jars infra/opensearch/pom.xml
# names (Maven Central) by the launcher beside it, with HTTP on 127.0.0.1:9200 and
# its transport on 127.0.0.1:9300. Data under $LS_HOME/search, kept across restarts.
# The ports can be moved (LEDGERSTREAM_SEARCH_PORT, LEDGERSTREAM_SEARCH_TRANSPORT_PORT),
# and so can the data (LEDGERSTREAM_HOME): a test can run a node of its own.
# docker-compose runs Elasticsearch 8; OpenSearch 2.19 speaks the Elasticsearch 7.10
# REST API, which is what the project's requests use.

SEARCH_PORT=${LEDGERSTREAM_SEARCH_PORT:-9200}
SEARCH_TRANSPORT_PORT=${LEDGERSTREAM_SEARCH_TRANSPORT_PORT:-9300}
OPENSEARCH_VERSION=$(sed -n 's:.*<opensearch.version>\(.*\)</opensearch.version>.*:\1:p' "$LS_ROOT/infra/opensearch/pom.xml")
OPENSEARCH_HOME=$LS_TOOLS/opensearch-$OPENSEARCH_VERSION
OPENSEARCH_LIBS=$OPENSEARCH_HOME/libs
OPENSEARCH_LAUNCHER=$LS_ROOT/infra/opensearch/OpenSearchNode.java
# The heap stays within 1 GiB; the rest are the options the release's start script
# adds (config/jvm.options and its launcher's system options), but -XX:+AlwaysPreTouch:
# the heap takes memory as it is used.
OPENSEARCH_JVM_OPTS=(-Xms512m -Xmx1g -XX:+UseG1GC -XX:G1ReservePercent=25
  -XX:InitiatingHeapOccupancyPercent=30 -Xss1m -Djava.awt.headless=true
  -Dfile.encoding=UTF-8 -Djna.nosys=true -XX:-OmitStackTraceInFastThrow
  '-Djava.locale.providers=SPI,COMPAT' -Dio.netty.noUnsafe=true
  -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
  -Dio.netty.allocator.numDirectArenas=0 -Dlog4j.shutdownHookEnabled=false
  -Dlog4j2.disable.jmx=true)

search_port() { printf '%s' "$SEARCH_PORT"; }

search_install() {
  java_toolchain
  # The marker holds the pom it was made from: a changed pom fetches again.
  if [ ! -f "$OPENSEARCH_LIBS/.installed" ] || ! cmp -s "$OPENSEARCH_LIBS/.installed" "$LS_ROOT/infra/opensearch/pom.xml"; then
    say "fetching OpenSearch $OPENSEARCH_VERSION from Maven Central into $OPENSEARCH_LIBS (once per machine)"
    rm -rf "$OPENSEARCH_LIBS"
    mkdir -p "$OPENSEARCH_LIBS"
    mvn -q -B -f "$LS_ROOT/infra/opensearch/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$OPENSEARCH_LIBS" ||
      die "fetching OpenSearch $OPENSEARCH_VERSION with Maven failed; see the output above (is Maven Central reachable?)"
    cp "$LS_ROOT/infra/opensearch/pom.xml" "$OPENSEARCH_LIBS/.installed"
  fi
  # The launcher is compiled once (java's source-file mode would take 2 s at
  # every start); beside the class, the source it was compiled from.
  local classes=$OPENSEARCH_HOME/launcher
  if [ ! -f "$classes/OpenSearchNode.java" ] || ! cmp -s "$classes/OpenSearchNode.java" "$OPENSEARCH_LAUNCHER"; then
    rm -rf "$classes"
    mkdir -p "$classes"
    javac -proc:none -cp "$OPENSEARCH_LIBS/*" -d "$classes" "$OPENSEARCH_LAUNCHER" ||
      die "compiling $OPENSEARCH_LAUNCHER failed; see the output above"
    cp "$OPENSEARCH_LAUNCHER" "$classes/OpenSearchNode.java"
  fi
}

# Writes the node's settings; every start writes them anew, so a change here takes
# effect at the next `make up` without touching the data.
search_config() {
  local dir=$1
  mkdir -p "$dir/config" "$dir/data" "$dir/logs" "$dir/tmp"
  cat >"$dir/config/opensearch.yml" <<SETTINGS
# Written by infra/local/services/search.sh at each start; edit that file instead.
cluster.name: ledgerstream-local
node.name: search
path.data: $dir/data
path.logs: $dir/logs
network.host: 127.0.0.1
http.port: $SEARCH_PORT
transport.port: $SEARCH_TRANSPORT_PORT
# One node, its own cluster manager; no other node is looked for.
discovery.type: single-node
# A development disk is often more than 85 % full: without this, the node stops
# allocating shards, then makes every index read-only.
cluster.routing.allocation.disk.threshold_enabled: false
# The projection creates its indices, and their template, itself: a write to an
# index nobody created (a typo, an index deleted under a running projector) fails
# instead of creating a stray index with guessed mappings.
action.auto_create_index: false
SETTINGS
  cat >"$dir/config/log4j2.properties" <<'PROPERTIES'
# Written by infra/local/services/search.sh: everything to standard output, which
# the stack sends to its logs folder.
status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
PROPERTIES
}

search_start() {
  if [ ! -f "$OPENSEARCH_LIBS/.installed" ] || [ ! -f "$OPENSEARCH_HOME/launcher/OpenSearchNode.class" ]; then
    die "OpenSearch is not installed; run: infra/local/stack.sh install search"
  fi
  local dir=$LS_HOME/search
  search_config "$dir"
  start_daemon search "$dir" java "${OPENSEARCH_JVM_OPTS[@]}" -Djava.io.tmpdir="$dir/tmp" \
    -cp "$OPENSEARCH_HOME/launcher:$OPENSEARCH_LIBS/*" OpenSearchNode "$dir"
}

# The cluster answers and every primary shard is assigned (yellow: one node holds
# no replicas): cheap, for `status` and the start-up wait.
search_healthy() {
  curl -fsS -m 2 "http://127.0.0.1:$SEARCH_PORT/_cluster/health" 2>/dev/null |
    grep -Eq '"status":"(green|yellow)"'
}
