package ledgerstream.peer.processor;

import java.util.Map;

import ledgerstream.peer.wire.Catalog;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The peer's topology:
 *
 * <pre>
 * account-commands ─► commands (source) ─► processor ──┬─► account-events
 *                                        │  (accounts, ├─► account-command-results
 *                                        │   commands: ├─► account-commands (transfer follow-ups)
 *                                        │   RocksDB,  └─► account-dead-letters
 *                                        │   changelog)
 *                                        └── reads the owner view
 * account-events ─► owner view (global store, its own thread)
 * </pre>
 *
 * Records stay bytes on the way in: the processor decodes them itself, as the Rust
 * processor does, so that a record it cannot read is a dead letter, not a crashed thread.
 */
public final class PeerTopology {
    private PeerTopology() {}

    /**
     * {@code windowInMemory} keeps the idempotency window in Kafka Streams' in-memory store
     * (changelogged too) instead of RocksDB: a measured alternative, not the default.
     */
    public static Topology build(Catalog catalog, Topics topics, int window, boolean ownerView,
            boolean windowInMemory) {
        ByteArrayDeserializer bytesIn = new ByteArrayDeserializer();
        ByteArraySerializer keys = new ByteArraySerializer();
        Routed.ValueSerializer values = new Routed.ValueSerializer();
        Routed.Partitioner routed = new Routed.Partitioner();

        Topology topology = new Topology();
        topology.addSource("commands", bytesIn, bytesIn, topics.commands());
        topology.addProcessor("processor",
                () -> new CommandProcessor(catalog, topics, window, ownerView), "commands");
        // The default persistent store: RocksDB, with a changelog topic; the accounts'
        // behind the record cache, the idempotency window's not (AccountStore says why).
        topology.addStateStore(Stores.keyValueStoreBuilder(
                        Stores.persistentKeyValueStore(CommandProcessor.STORE), Serdes.Bytes(), Serdes.ByteArray())
                .withCachingEnabled()
                .withLoggingEnabled(Map.of()), "processor");
        topology.addStateStore(Stores.keyValueStoreBuilder(
                        windowInMemory
                                ? Stores.inMemoryKeyValueStore(CommandProcessor.WINDOW_STORE)
                                : Stores.persistentKeyValueStore(CommandProcessor.WINDOW_STORE), Serdes.Bytes(),
                        Serdes.ByteArray())
                .withCachingDisabled()
                .withLoggingEnabled(Map.of()), "processor");
        topology.addSink(CommandProcessor.EVENTS, topics.events(), keys, values, routed, "processor");
        topology.addSink(CommandProcessor.RESULTS, topics.results(), keys, values, routed, "processor");
        topology.addSink(CommandProcessor.FOLLOW_UPS, topics.commands(), keys, values, routed, "processor");
        topology.addSink(CommandProcessor.DEAD_LETTERS, topics.deadLetters(), keys, values, routed, "processor");
        if (ownerView) {
            // Global stores have no changelog: the events topic is their log.
            topology.addGlobalStore(Stores.keyValueStoreBuilder(
                            Stores.inMemoryKeyValueStore(OwnerView.STORE), Serdes.Bytes(), Serdes.ByteArray())
                    .withLoggingDisabled(),
                    "owner-view-source", bytesIn, bytesIn, topics.events(), "owner-view",
                    () -> new OwnerView.Feeder(catalog));
        }
        return topology;
    }
}
