package ledgerstream.peer.processor;

import java.util.Optional;
import java.util.Set;

import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.StreamPartitioner;

/**
 * An encoded value and the partition it goes to. Events and results go to the partition
 * number of the command they answer, as the Rust processor writes them (co-partitioned
 * topics; a misplaced command's {@code WRONG_PARTITION} result too); follow-up commands
 * to their account's murmur2 partition. A negative partition leaves it to the producer's
 * default partitioner (dead letters).
 */
record Routed(byte[] bytes, int partition) {
    /** Writes the bytes as they are. */
    static final class ValueSerializer implements Serializer<Routed> {
        @Override
        public byte[] serialize(String topic, Routed routed) {
            return routed == null ? null : routed.bytes;
        }
    }

    /** Sends each record to its {@link Routed#partition}. */
    static final class Partitioner implements StreamPartitioner<byte[], Routed> {
        private static final int CACHED = 256;
        @SuppressWarnings("unchecked")
        private static final Optional<Set<Integer>>[] ONE = new Optional[CACHED];

        static {
            for (int p = 0; p < CACHED; p++) {
                ONE[p] = Optional.of(Set.of(p));
            }
        }

        @Override
        public Optional<Set<Integer>> partitions(String topic, byte[] key, Routed value, int numPartitions) {
            int p = value.partition;
            if (p < 0) {
                return Optional.empty();
            }
            return p < CACHED ? ONE[p] : Optional.of(Set.of(p));
        }
    }
}
