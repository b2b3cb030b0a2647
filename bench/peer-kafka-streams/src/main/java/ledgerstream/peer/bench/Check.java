package ledgerstream.peer.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

import ledgerstream.account.results.CommandAccepted;
import ledgerstream.account.results.CommandRejected;
import ledgerstream.peer.wire.Codec;
import ledgerstream.peer.wire.DecodeException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * After the run: what a {@code read_committed} reader sees. One result per command (no
 * command answered twice), and one event per accepted command with events.
 */
final class Check {
    record Counts(long results, long accepted, long rejected, long distinctCommands, long events,
            long deadLetters) {}

    private Check() {}

    static Counts run(String bootstrap, String results, String events, String deadLetters, int partitions,
            Codec codec) {
        long accepted = 0;
        long rejected = 0;
        long eventCount = 0;
        Set<UUID> commands = new HashSet<>();
        long resultCount = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            long[] tally = new long[3];
            resultCount = readAll(consumer, results, partitions, r -> {
                SpecificRecord record;
                try {
                    record = codec.decode(r.value());
                } catch (DecodeException e) {
                    throw new IllegalStateException("an unreadable result: " + e.getMessage(), e);
                }
                if (record instanceof CommandAccepted a) {
                    tally[0]++;
                    tally[2] += a.getEventCount();
                    commands.add(a.getCommandId());
                } else if (record instanceof CommandRejected j) {
                    tally[1]++;
                    commands.add(j.getCommandId());
                }
            });
            accepted = tally[0];
            rejected = tally[1];
            eventCount = tally[2];
            long eventsRead = readAll(consumer, events, partitions, r -> {});
            long letters = readAll(consumer, deadLetters, partitions, r -> {});
            if (eventsRead != eventCount) {
                System.err.printf("check: %d events in the log, results announce %d%n", eventsRead, eventCount);
            }
            return new Counts(resultCount, accepted, rejected, commands.size(), eventsRead, letters);
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10_000);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** Hands every committed record of {@code topic}, up to its end as it is now, to {@code each}. */
    private static long readAll(KafkaConsumer<byte[], byte[]> consumer, String topic, int partitions,
            java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> each) {
        List<TopicPartition> all = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            all.add(new TopicPartition(topic, p));
        }
        consumer.assign(all);
        consumer.seekToBeginning(all);
        Map<TopicPartition, Long> ends = consumer.endOffsets(all);
        long read = 0;
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            boolean done = true;
            for (TopicPartition tp : all) {
                done &= consumer.position(tp) >= ends.get(tp);
            }
            if (done) {
                break;
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                each.accept(r);
                read++;
            }
        }
        return read;
    }
}
