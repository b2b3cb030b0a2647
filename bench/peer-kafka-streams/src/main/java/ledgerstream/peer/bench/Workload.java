package ledgerstream.peer.bench;

import java.time.Instant;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import ledgerstream.account.AccountType;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.peer.wire.Codec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The commands of {@code ledgerstream-bench process} (bench/src/process.rs): one
 * {@code OpenAccount} per account ({@code bench-<i>}, owner {@code owner-<i>}, CHECKING,
 * 1,000.00 USD), then {@code deposits} deposits of 1.00 USD, round robin over the
 * accounts; random v4 command and correlation ids, as the producers library makes them.
 * Keyed by account id with the Java client's default (murmur2) partitioner.
 */
final class Workload {
    /** What was produced. */
    record Produced(long records, long bytes, double seconds) {}

    private Workload() {}

    static Produced produce(String bootstrap, String topic, Codec codec, int accounts, long deposits) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 262_144);
        long started = System.nanoTime();
        long bytes = 0;
        long records = 0;
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < accounts; i++) {
                String account = "bench-" + i;
                bytes += send(producer, topic, codec, account, new OpenAccount(UUID.randomUUID(), account, null,
                        Instant.now(), uuid(), null, "owner-" + i, AccountType.CHECKING, 1_000_00L, "USD"));
                records++;
            }
            for (long i = 0; i < deposits; i++) {
                String account = "bench-" + (i % accounts);
                bytes += send(producer, topic, codec, account, new DepositMoney(UUID.randomUUID(), account, null,
                        Instant.now(), uuid(), null, 1_00L, "USD", null));
                records++;
            }
            producer.flush();
        }
        return new Produced(records, bytes, (System.nanoTime() - started) / 1e9);
    }

    private static long send(KafkaProducer<byte[], byte[]> producer, String topic, Codec codec, String account,
            SpecificRecord command) {
        byte[] value = codec.encode(command);
        producer.send(new ProducerRecord<>(topic, account.getBytes(java.nio.charset.StandardCharsets.UTF_8), value),
                (metadata, error) -> {
                    if (error != null) {
                        System.err.println("producing a command failed: " + error);
                        System.exit(1);
                    }
                });
        return value.length;
    }

    private static String uuid() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return new UUID((random.nextLong() & ~0xf000L) | 0x4000L,
                (random.nextLong() & 0x3fffffffffffffffL) | 0x8000000000000000L).toString();
    }
}
