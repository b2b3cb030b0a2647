package ledgerstream.peer.processor;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import ledgerstream.account.events.AccountClosed;
import ledgerstream.account.events.AccountOpened;
import ledgerstream.peer.wire.Catalog;
import ledgerstream.peer.wire.Codec;
import ledgerstream.peer.wire.DecodeException;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The owner view: each owner's open accounts, from every partition of the events topic,
 * as the Rust processor keeps it (processors/src/processor/owners.rs) — here a Kafka
 * Streams global store, fed by its own thread. Only {@code AccountOpened} and
 * {@code AccountClosed} are decoded; every other event is skipped by its schema id.
 *
 * <pre>
 * 'O' owner   → its open accounts (length-prefixed UTF-8 ids)
 * 'W' account → its owner
 * </pre>
 */
final class OwnerView {
    static final String STORE = "owners";

    private OwnerView() {}

    /** The global store's processor: folds opens and closes, idempotently. */
    static final class Feeder implements Processor<byte[], byte[], Void, Void> {
        private final Catalog catalog;
        private Codec codec;
        private KeyValueStore<Bytes, byte[]> store;

        Feeder(Catalog catalog) {
            this.catalog = catalog;
        }

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            codec = new Codec(catalog);
            store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            try {
                String name = catalog.recordName(Codec.schemaId(record.value()));
                if (name.endsWith(".AccountOpened")) {
                    AccountOpened opened = (AccountOpened) codec.decode(record.value());
                    String account = opened.getMetadata().getAccountId();
                    store.put(key('W', account), opened.getOwnerId().getBytes(StandardCharsets.UTF_8));
                    Set<String> accounts = accounts(store, opened.getOwnerId());
                    if (accounts.add(account)) {
                        store.put(key('O', opened.getOwnerId()), encode(accounts));
                    }
                } else if (name.endsWith(".AccountClosed")) {
                    AccountClosed closed = (AccountClosed) codec.decode(record.value());
                    byte[] owner = store.get(key('W', closed.getMetadata().getAccountId()));
                    if (owner != null) {
                        String ownerId = new String(owner, StandardCharsets.UTF_8);
                        Set<String> accounts = accounts(store, ownerId);
                        if (accounts.remove(closed.getMetadata().getAccountId())) {
                            store.put(key('O', ownerId), encode(accounts));
                        }
                    }
                }
            } catch (DecodeException | ClassCastException e) {
                // Not an event the view can read: the processor dead-letters nothing here,
                // as the Rust view only logs it.
            }
        }
    }

    /**
     * A task's reading of the view. Opens this task decided are counted at once (a
     * batch's two opens for one owner must see each other), until the view has them.
     */
    static final class Reader {
        private final ReadOnlyKeyValueStore<Bytes, byte[]> store;
        private final Map<String, Set<String>> decidedHere = new HashMap<>();

        Reader(ReadOnlyKeyValueStore<Bytes, byte[]> store) {
            this.store = store;
        }

        int openAccounts(String owner) {
            Set<String> accounts = accounts(store, owner);
            Set<String> mine = decidedHere.get(owner);
            if (mine != null) {
                mine.removeIf(accounts::contains);
                if (mine.isEmpty()) {
                    decidedHere.remove(owner);
                } else {
                    return accounts.size() + mine.size();
                }
            }
            return accounts.size();
        }

        void opened(String owner, String account) {
            decidedHere.computeIfAbsent(owner, o -> new HashSet<>()).add(account);
        }
    }

    private static Set<String> accounts(ReadOnlyKeyValueStore<Bytes, byte[]> store, String owner) {
        byte[] value = store.get(key('O', owner));
        Set<String> accounts = new HashSet<>();
        if (value == null) {
            return accounts;
        }
        ByteBuffer in = ByteBuffer.wrap(value);
        while (in.hasRemaining()) {
            int length = in.getInt();
            accounts.add(new String(value, in.position(), length, StandardCharsets.UTF_8));
            in.position(in.position() + length);
        }
        return accounts;
    }

    private static byte[] encode(Set<String> accounts) {
        List<byte[]> ids = new ArrayList<>();
        int size = 0;
        for (String account : accounts) {
            byte[] id = account.getBytes(StandardCharsets.UTF_8);
            ids.add(id);
            size += 4 + id.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        for (byte[] id : ids) {
            out.putInt(id.length).put(id);
        }
        return out.array();
    }

    private static Bytes key(char kind, String id) {
        byte[] bytes = id.getBytes(StandardCharsets.UTF_8);
        byte[] key = new byte[1 + bytes.length];
        key[0] = (byte) kind;
        System.arraycopy(bytes, 0, key, 1, bytes.length);
        return Bytes.wrap(key);
    }
}
