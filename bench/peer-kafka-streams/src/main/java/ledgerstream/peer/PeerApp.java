package ledgerstream.peer;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import ledgerstream.peer.processor.PeerTopology;
import ledgerstream.peer.processor.Topics;
import ledgerstream.peer.wire.Catalog;
import ledgerstream.peer.wire.Registry;
import ledgerstream.peer.wire.Schemas;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The Kafka Streams peer of ledgerstream's command processor: reads commands, keeps each
 * account in RocksDB, applies the rules and writes an event and a result per command,
 * exactly once. Runs until stopped (SIGTERM / Ctrl-C).
 *
 * <p>Prints, on stdout, its {@code peer tuning}, one {@code peer state} line per state
 * change and one {@code peer stats} line a second (heap, GC), which the bench driver reads.
 */
public final class PeerApp {
    private PeerApp() {}

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String bootstrap = args.string("bootstrap", "127.0.0.1:9092");
        String registryUrl = args.string("registry", "http://127.0.0.1:8081");
        Path schemas = Path.of(args.string("schemas", "../../schemas/avro"));
        String suffix = args.string("topic-suffix", "");
        int partitions = args.integer("partitions", 3);
        String applicationId = args.string("application-id", "ledgerstream-peer" + suffix);
        int window = args.integer("idempotency-window", 1_000);
        boolean ownerView = args.flag("owner-view", true);
        boolean windowInMemory = args.string("window-store", "rocksdb").equals("memory");
        Properties config = streamsConfig(args, bootstrap, applicationId);
        args.requireKnown();

        Topics topics = Topics.withSuffix(suffix, partitions);
        Catalog catalog = Catalog.connect(new Registry(registryUrl), Schemas.load(schemas), topics.byKind(), false);
        KafkaStreams streams = new KafkaStreams(PeerTopology.build(catalog, topics, window, ownerView, windowInMemory), config);

        CountDownLatch stopped = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            System.out.printf("peer state %s at %d%n", now, System.currentTimeMillis());
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(30));
            stopped.countDown();
        }, "peer-shutdown"));
        System.out.printf("peer tuning num.stream.threads=%s commit.interval.ms=%s statestore.cache.max.bytes=%dMiB"
                        + " linger.ms=%s batch.size=%s compression.type=%s max.poll.records=%s"
                        + " idempotency-window=%d window-store=%s owner-view=%b%n",
                config.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG),
                config.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG),
                ((Long) config.get(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG)) >> 20,
                config.get(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG)),
                config.get(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG)),
                config.get(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG)),
                config.get(StreamsConfig.mainConsumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG)),
                window, windowInMemory ? "memory" : "rocksdb", ownerView);
        startStats();
        streams.start();
        stopped.await();
    }

    /**
     * The tuning, each setting a flag; the defaults are the ones BENCHMARKS.md measured
     * (the README says why each is what it is).
     */
    static Properties streamsConfig(Args args, String bootstrap, String applicationId) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args.string("state-dir", "/tmp/ledgerstream-peer"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.integer("threads", 3));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, args.number("commit-interval-ms", 50));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, args.number("cache-mib", 64) << 20);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), args.integer("linger-ms", 5));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), args.integer("batch-bytes", 131_072));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), args.string("compression", "lz4"));
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG),
                args.integer("max-poll-records", 2_000));
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    /** One line a second: heap in use and committed, and the collectors' counts and time. */
    private static void startStats() {
        Thread stats = new Thread(() -> {
            var memory = ManagementFactory.getMemoryMXBean();
            while (true) {
                MemoryUsage heap = memory.getHeapMemoryUsage();
                long count = 0;
                long millis = 0;
                for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                    count += Math.max(0, gc.getCollectionCount());
                    millis += Math.max(0, gc.getCollectionTime());
                }
                System.out.printf("peer stats at %d heap_used_mib %d heap_committed_mib %d gc_count %d gc_ms %d%n",
                        System.currentTimeMillis(), heap.getUsed() >> 20, heap.getCommitted() >> 20, count, millis);
                try {
                    Thread.sleep(1_000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "peer-stats");
        stats.setDaemon(true);
        stats.start();
    }
}
