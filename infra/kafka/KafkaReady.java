// Exits 0 once the Kafka broker at the given bootstrap address can do what the
// pipeline needs of it: a transactional producer initialises (the transaction
// coordinator and its state log are up) and a consumer joins a group (the group
// coordinator and the offsets topic are up). An open port, or even an answer to
// Metadata, proves neither.
//
// Run with the broker's own jars, as a single-file program (needs a JDK):
//   java -cp '<tools>/kafka-<version>/libs/*' infra/kafka/KafkaReady.java 127.0.0.1:9092 120
// It retries until the deadline (seconds, default 120), then exits 1 naming the
// step that did not succeed. It writes no record and leaves no group behind.

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class KafkaReady {
    private KafkaReady() {}

    public static void main(String[] args) throws InterruptedException {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
        long seconds = args.length > 1 ? Long.parseLong(args[1]) : 120;
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        String id = "ledgerstream-ready-" + UUID.randomUUID();

        String step = "a transactional producer initialising";
        RuntimeException last = null;
        boolean transactions = false;
        boolean groups = false;
        while (System.nanoTime() < deadline) {
            try {
                if (!transactions) {
                    initTransactions(bootstrap, id);
                    transactions = true;
                    step = "a consumer joining a group";
                }
                if (!groups) {
                    joinGroup(bootstrap, id);
                    groups = true;
                }
                System.out.println("kafka at " + bootstrap + " is ready: transactions and consumer groups work");
                return;
            } catch (RuntimeException error) {
                last = error;
                Thread.sleep(500);
            }
        }
        System.err.println("kafka at " + bootstrap + " is not ready after " + seconds + " s: "
                + step + " failed" + (last == null ? "" : ": " + last));
        System.exit(1);
    }

    private static void initTransactions(String bootstrap, String id) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.abortTransaction();
        }
    }

    private static void joinGroup(String bootstrap, String id) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, id);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        AtomicBoolean joined = new AtomicBoolean(false);
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            // A topic nobody has: the group is joined all the same, with nothing assigned.
            consumer.subscribe(List.of(id), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {}

                @Override
                public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
                    joined.set(true);
                }
            });
            long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (!joined.get() && System.nanoTime() < until) {
                consumer.poll(Duration.ofMillis(200));
            }
        }
        if (!joined.get()) {
            throw new IllegalStateException("the group join did not complete within 15 s");
        }
        Properties admin = new Properties();
        admin.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin client = Admin.create(admin)) {
            client.deleteConsumerGroups(List.of(id)).all().get();
        } catch (Exception error) {
            // An empty group expires by itself; not worth failing readiness for.
        }
    }
}
