package ledgerstream.peer.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

import ledgerstream.peer.Args;
import ledgerstream.peer.processor.Topics;
import ledgerstream.peer.wire.Catalog;
import ledgerstream.peer.wire.Codec;
import ledgerstream.peer.wire.Registry;
import ledgerstream.peer.wire.Schemas;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The peer's benchmark: fresh topics, the commands of {@code ledgerstream-bench process}
 * preloaded, then the peer started in its own JVM and watched until every command is
 * committed (its offset in the group, which exactly_once_v2 commits in the same
 * transaction as the command's event and result). Prints the steady rate after a
 * warm-up, the peer's CPU per command and its heap; then checks what a read_committed
 * reader sees.
 */
public final class Bench {
    private static final long SAMPLE_MILLIS = 100;

    /** One observation of the run. */
    private record Sample(long at, long committed, double peerCpu, double brokerCpu) {}

    private Bench() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String bootstrap = args.string("bootstrap", "127.0.0.1:9092");
        String registryUrl = args.string("registry", "http://127.0.0.1:8081");
        String schemasDir = args.string("schemas", "../../schemas/avro");
        long deposits = args.number("commands", 100_000);
        int accounts = args.integer("accounts", 1_000);
        int partitions = args.integer("partitions", 3);
        double warmup = Double.parseDouble(args.string("warmup-seconds", "10"));
        boolean keep = args.flag("keep", false);
        long brokerPid = args.number("broker-pid", 0);
        List<String> jvm = Arrays.asList(args.string("peer-jvm", "-Xms1g -Xmx1g").split(" "));
        List<String> peerArgs = new ArrayList<>();
        for (String option : List.of("threads", "commit-interval-ms", "cache-mib", "linger-ms", "batch-bytes",
                "max-poll-records", "compression", "owner-view", "idempotency-window", "window-store")) {
            String value = args.string(option, null);
            if (value != null) {
                peerArgs.addAll(List.of("--" + option, value));
            }
        }
        boolean smoke = args.flag("smoke", false);
        args.requireKnown();
        if (smoke) {
            Smoke.run(args, bootstrap, registryUrl, schemasDir, jvm);
            return;
        }

        String suffix = "-peer-" + UUID.randomUUID().toString().substring(0, 8);
        Topics topics = Topics.withSuffix(suffix, partitions);
        String applicationId = "ledgerstream-peer" + suffix;
        Path stateDir = Files.createTempDirectory("ledgerstream-peer");
        Path log = Path.of(System.getProperty("java.io.tmpdir"), applicationId + ".log");
        long total = accounts + deposits;
        int ticks = Integer.parseInt(new String(new ProcessBuilder("getconf", "CLK_TCK").start()
                .getInputStream().readAllBytes()).trim());

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            createTopics(admin, topics);
            Catalog catalog = Catalog.connect(new Registry(registryUrl), Schemas.load(Path.of(schemasDir)),
                    topics.byKind(), true);
            Codec codec = new Codec(catalog);

            System.err.printf("writing %d opens and %d deposits to %s ...%n", accounts, deposits, topics.commands());
            Workload.Produced produced = Workload.produce(bootstrap, topics.commands(), codec, accounts, deposits);

            System.err.printf("peer (log: %s) ...%n", log);
            peerArgs.addAll(List.of("--bootstrap", bootstrap, "--registry", registryUrl, "--schemas", schemasDir,
                    "--topic-suffix", suffix, "--partitions", Integer.toString(partitions),
                    "--application-id", applicationId, "--state-dir", stateDir.toString()));
            long launched = System.currentTimeMillis();
            Sample first = null;
            Sample warm = null;
            Sample end = null;
            String loadAtWarm = "?";
            long gcCountAtWarm = 0;
            long gcMillisAtWarm = 0;
            long maxResident = 0;
            try (PeerProcess peer = PeerProcess.start(jvm, peerArgs, log)) {
                ProcessMeter peerMeter = new ProcessMeter(peer.pid(), ticks);
                ProcessMeter brokerMeter = brokerPid > 0 ? new ProcessMeter(brokerPid, ticks) : null;
                long deadline = launched + 1_800_000;
                while (end == null) {
                    if (!peer.alive() || System.currentTimeMillis() > deadline) {
                        throw new IllegalStateException("the peer stopped or timed out before every command was "
                                + "committed; its log: " + log);
                    }
                    Thread.sleep(SAMPLE_MILLIS);
                    Sample s = new Sample(System.currentTimeMillis(), committed(admin, applicationId, topics),
                            peerMeter.cpuSeconds(), brokerMeter == null ? Double.NaN : brokerMeter.cpuSeconds());
                    maxResident = Math.max(maxResident, peerMeter.residentMib());
                    if (first == null && s.committed > 0) {
                        first = s;
                    }
                    if (first != null && warm == null && s.at - first.at >= warmup * 1000) {
                        warm = s;
                        loadAtWarm = ProcessMeter.load();
                        gcCountAtWarm = peer.gcCount();
                        gcMillisAtWarm = peer.gcMillis();
                        peer.resetMaxHeap();
                    }
                    if (s.committed >= total) {
                        end = s;
                    }
                }
                String loadAtEnd = ProcessMeter.load();
                long runningAt = peer.runningAt();

                System.err.println("checking what a read_committed reader sees ...");
                Check.Counts counts = Check.run(bootstrap, topics.results(), topics.events(), topics.deadLetters(),
                        partitions, codec);

                System.out.printf("peer          Kafka Streams 4.4.0, exactly_once_v2, RocksDB stores with changelogs%n");
                System.out.printf("tuning        %s%n", peer.tuning());
                System.out.printf("peer jvm      %s%n", String.join(" ", jvm));
                System.out.printf("broker        %s (partitions %d, topics *%s)%n", bootstrap, partitions, suffix);
                System.out.printf("records       %d commands (%d opens, then %d deposits), %d bytes on average%n",
                        total, accounts, deposits, produced.bytes() / Math.max(1, produced.records()));
                System.out.printf("produce       %9.0f records/s%n", produced.records() / produced.seconds());
                System.out.printf("start-up      %.1f s from launch to RUNNING, %.1f s to the first commit%n",
                        (runningAt - launched) / 1e3, (first.at - launched) / 1e3);
                if (warm == null || end.committed - warm.committed <= 0) {
                    System.out.printf("overall       %9.0f commands/s from the first commit to the last (%.1f s)%n",
                            (end.committed - first.committed) / ((end.at - first.at) / 1e3), (end.at - first.at) / 1e3);
                    throw new IllegalStateException("the run ended within the warm-up: raise --commands");
                }
                double seconds = (end.at - warm.at) / 1e3;
                long steadyCommands = end.committed - warm.committed;
                System.out.printf("steady        %9.0f commands/s over %.1f s after a %.0f s warm-up (%d commands)%n",
                        steadyCommands / seconds, seconds, warmup, steadyCommands);
                System.out.printf("peer CPU      %9.1f µs per command (JVM process, all threads; %.2f cores)%n",
                        (end.peerCpu - warm.peerCpu) * 1e6 / steadyCommands, (end.peerCpu - warm.peerCpu) / seconds);
                if (brokerMeter != null) {
                    System.out.printf("broker CPU    %9.1f µs per command (%.2f cores)%n",
                            (end.brokerCpu - warm.brokerCpu) * 1e6 / steadyCommands,
                            (end.brokerCpu - warm.brokerCpu) / seconds);
                }
                System.out.printf("overall       %9.0f commands/s from the first commit to the last (%.1f s)%n",
                        (end.committed - first.committed) / ((end.at - first.at) / 1e3), (end.at - first.at) / 1e3);
                System.out.printf("heap          %d MiB used at most in the window (%d MiB committed), GC %d collections"
                                + " / %d ms in the window; RSS at most %d MiB%n",
                        peer.maxHeapUsedMib(), peer.heapCommittedMib(), peer.gcCount() - gcCountAtWarm,
                        peer.gcMillis() - gcMillisAtWarm, maxResident);
                System.out.printf("load          %s at the window's start, %s at its end (1-minute average)%n",
                        loadAtWarm, loadAtEnd);
                System.out.printf("check         %d results (%d accepted, %d rejected) for %d distinct commands,"
                                + " %d events, %d dead letters%n",
                        counts.results(), counts.accepted(), counts.rejected(), counts.distinctCommands(),
                        counts.events(), counts.deadLetters());
                if (counts.results() != total || counts.distinctCommands() != total || counts.accepted() != total) {
                    throw new IllegalStateException("expected " + total + " accepted results, one per command");
                }
            }
        } finally {
            if (!keep) {
                deleteTopics(bootstrap, topics, applicationId);
            }
            deleteTree(stateDir);
        }
    }

    private static void createTopics(Admin admin, Topics topics) throws ExecutionException, InterruptedException {
        short one = 1;
        List<NewTopic> all = new ArrayList<>();
        for (String name : List.of(topics.commands(), topics.events(), topics.results(), topics.deadLetters())) {
            NewTopic topic = new NewTopic(name, topics.partitions(), one);
            if (name.equals(topics.events())) {
                topic.configs(Map.of("retention.ms", "-1"));
            }
            all.add(topic);
        }
        admin.createTopics(all).all().get();
    }

    /** The group's committed offsets on the commands topic, summed. */
    private static long committed(Admin admin, String group, Topics topics) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        long sum = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            if (e.getKey().topic().equals(topics.commands()) && e.getValue() != null) {
                sum += e.getValue().offset();
            }
        }
        return sum;
    }

    static void deleteTopics(String bootstrap, Topics topics, String applicationId) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<String> names = new ArrayList<>(List.of(topics.commands(), topics.events(), topics.results(),
                    topics.deadLetters(), applicationId + "-accounts-changelog",
                    applicationId + "-commands-changelog"));
            admin.deleteTopics(names).all().get();
            // The group empties only at its session timeout (Streams members do not leave
            // on close): it is left to expire with the broker's offsets retention.
        } catch (Exception e) {
            System.err.println("cleaning up the topics failed: " + e.getMessage());
        }
    }

    private static void deleteTree(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception e) {
            System.err.println("removing " + root + " failed: " + e.getMessage());
        }
    }
}
