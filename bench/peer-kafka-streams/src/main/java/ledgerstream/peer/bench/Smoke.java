package ledgerstream.peer.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;

import ledgerstream.account.AccountType;
import ledgerstream.account.Channel;
import ledgerstream.account.commands.DebitTransfer;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.WithdrawMoney;
import ledgerstream.account.results.CommandAccepted;
import ledgerstream.account.results.CommandRejected;
import ledgerstream.peer.Args;
import ledgerstream.peer.processor.Topics;
import ledgerstream.peer.wire.Catalog;
import ledgerstream.peer.wire.Codec;
import ledgerstream.peer.wire.Registry;
import ledgerstream.peer.wire.Schemas;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * The peer against the rules beyond deposits, on a real broker: opens, a deposit and its
 * repeat, a wrong currency and its repeat, a savings fee, a transfer, a transfer to an
 * account never opened (credit rejected, refunded), a command for that account, and a
 * command on the wrong partition. Checks each command's answer, the follow-ups' and
 * the final balances. {@code run.sh} runs it with {@code --smoke true}.
 */
final class Smoke {
    private Smoke() {}

    static void run(Args args, String bootstrap, String registryUrl, String schemasDir, List<String> jvm)
            throws Exception {
        String suffix = "-peer-smoke-" + UUID.randomUUID().toString().substring(0, 8);
        Topics topics = Topics.withSuffix(suffix, 3);
        Path stateDir = Files.createTempDirectory("ledgerstream-peer-smoke");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<NewTopic> all = new ArrayList<>();
            for (String name : List.of(topics.commands(), topics.events(), topics.results(), topics.deadLetters())) {
                all.add(new NewTopic(name, 3, (short) 1));
            }
            admin.createTopics(all).all().get();
        }
        Codec codec = new Codec(Catalog.connect(new Registry(registryUrl), Schemas.load(Path.of(schemasDir)),
                topics.byKind(), true));

        Instant now = Instant.now();
        String a = "smoke-a";
        String b = "smoke-b";
        String c = "smoke-never-opened";
        UUID deposit = UUID.randomUUID();
        UUID euro = UUID.randomUUID();
        UUID toB = UUID.randomUUID();
        UUID toC = UUID.randomUUID();
        Map<UUID, String> expected = new HashMap<>();
        List<SpecificRecord> commands = new ArrayList<>();
        commands.add(expect(expected, "ACCEPTED", new OpenAccount(UUID.randomUUID(), a, null, now, "s", null, "o1",
                AccountType.CHECKING, 1_000_00L, "USD")));
        commands.add(expect(expected, "ACCEPTED", new OpenAccount(UUID.randomUUID(), b, null, now, "s", null, "o1",
                AccountType.SAVINGS, 2_000_00L, "USD")));
        commands.add(expect(expected, "ACCEPTED", new DepositMoney(deposit, a, null, now, "s", null, 50_00L, "USD", null)));
        commands.add(new DepositMoney(deposit, a, null, now, "s", null, 50_00L, "USD", null));
        commands.add(expect(expected, "CURRENCY_MISMATCH", new DepositMoney(euro, a, null, now, "s", null, 1_00L, "EUR", null)));
        commands.add(new DepositMoney(euro, a, null, now, "s", null, 1_00L, "EUR", null));
        commands.add(expect(expected, "ACCEPTED", new WithdrawMoney(UUID.randomUUID(), b, null, now, "s", null, 1_500_00L,
                "USD", null, Channel.ATM)));
        commands.add(expect(expected, "ACCEPTED", new DebitTransfer(UUID.randomUUID(), a, null, now, "s", null, toB, b,
                100_00L, "USD", "rent")));
        commands.add(expect(expected, "ACCEPTED", new DebitTransfer(UUID.randomUUID(), a, null, now, "s", null, toC, c,
                10_00L, "USD", null)));
        commands.add(expect(expected, "ACCOUNT_NOT_FOUND", new DepositMoney(UUID.randomUUID(), c, null, now, "s", null,
                1_00L, "USD", null)));
        DepositMoney misplaced = new DepositMoney(UUID.randomUUID(), a, null, now, "s", null, 1_00L, "USD", null);
        expect(expected, "WRONG_PARTITION", misplaced);

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (SpecificRecord command : commands) {
                String account = (String) command.get(command.getSchema().getField("account_id").pos());
                producer.send(new ProducerRecord<>(topics.commands(), account.getBytes(StandardCharsets.UTF_8),
                        codec.encode(command))).get();
            }
            byte[] key = a.getBytes(StandardCharsets.UTF_8);
            int wrong = (Utils.toPositive(Utils.murmur2(key)) % 3 + 1) % 3;
            producer.send(new ProducerRecord<>(topics.commands(), wrong, key, codec.encode(misplaced))).get();
        }

        // 11 commands, 2 follow-up credits and 1 refund: 14 results.
        int expectedResults = commands.size() + 1 + 3;
        List<String> peerArgs = List.of("--bootstrap", bootstrap, "--registry", registryUrl, "--schemas", schemasDir,
                "--topic-suffix", suffix, "--partitions", "3", "--application-id", "ledgerstream-peer" + suffix,
                "--state-dir", stateDir.toString());
        Map<UUID, SpecificRecord> results = new HashMap<>();
        List<SpecificRecord> followUps = new ArrayList<>();
        Map<String, Long> balances = new TreeMap<>();
        Path log = Path.of(System.getProperty("java.io.tmpdir"), "ledgerstream-peer" + suffix + ".log");
        try (PeerProcess peer = PeerProcess.start(jvm, peerArgs, log);
                KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                partitions.add(new TopicPartition(topics.results(), i));
                partitions.add(new TopicPartition(topics.events(), i));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.currentTimeMillis() + 120_000;
            long settled = Long.MAX_VALUE;
            int seen = 0;
            // Until every result is in, and 2 s more for the events committed with them.
            while (System.currentTimeMillis() < Math.min(deadline, settled) && peer.alive()) {
                if (seen >= expectedResults && settled == Long.MAX_VALUE) {
                    settled = System.currentTimeMillis() + 2_000;
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    SpecificRecord record = codec.decode(r.value());
                    if (r.topic().equals(topics.events())) {
                        String account = (String) ((SpecificRecord) record.get(0)).get(1);
                        balances.put(account, (Long) record.get(record.getSchema().getField("balance_after_minor").pos()));
                        continue;
                    }
                    seen++;
                    UUID id = (UUID) record.get(0);
                    if (expected.containsKey(id) && !results.containsKey(id)) {
                        results.put(id, record);
                    } else if (!expected.containsKey(id)) {
                        followUps.add(record);
                    } else {
                        check(expected.get(id), record, "the repeat of " + id);
                        if (record instanceof CommandAccepted accepted && accepted.getEventCount() != 0) {
                            throw new IllegalStateException("a repeated command wrote events: " + record);
                        }
                    }
                }
            }
        } finally {
            deleteTree(stateDir);
            Bench.deleteTopics(bootstrap, topics, "ledgerstream-peer" + suffix);
        }
        for (Map.Entry<UUID, String> e : expected.entrySet()) {
            SpecificRecord result = results.get(e.getKey());
            if (result == null) {
                throw new IllegalStateException("no result for " + e.getKey() + "; the peer's log: " + log);
            }
            check(e.getValue(), result, e.getKey().toString());
        }
        long credited = followUps.stream().filter(r -> r instanceof CommandAccepted x && x.getAccountId().equals(b)).count();
        long creditRejected = followUps.stream()
                .filter(r -> r instanceof CommandRejected x && x.getAccountId().equals(c)
                        && x.getReasonCode().equals("ACCOUNT_NOT_FOUND")).count();
        long refunded = followUps.stream().filter(r -> r instanceof CommandAccepted x && x.getAccountId().equals(a)).count();
        System.out.printf("smoke         %d answers as expected; follow-ups: credit %d, credit rejected %d, refund %d;"
                + " balances %s%n", results.size(), credited, creditRejected, refunded, balances);
        // a: 1,000 + 50 - (100 + 2) - (10 + 2) + (10 + 2); b: 2,000 - (1,500 + 5) + 100.
        if (credited != 1 || creditRejected != 1 || refunded != 1
                || balances.getOrDefault(a, -1L) != 948_00L || balances.getOrDefault(b, -1L) != 595_00L) {
            throw new IllegalStateException("follow-ups or balances are not what the rules say; the peer's log: " + log);
        }
    }

    private static SpecificRecord expect(Map<UUID, String> expected, String outcome, SpecificRecord command) {
        expected.put((UUID) command.get(0), outcome);
        return command;
    }

    private static void check(String outcome, SpecificRecord result, String what) {
        String got = result instanceof CommandRejected r ? r.getReasonCode() : "ACCEPTED";
        if (!got.equals(outcome)) {
            throw new IllegalStateException(what + ": expected " + outcome + ", got " + result);
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static void deleteTree(Path root) {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
        } catch (Exception e) {
            System.err.println("removing " + root + " failed: " + e.getMessage());
        }
    }
}
