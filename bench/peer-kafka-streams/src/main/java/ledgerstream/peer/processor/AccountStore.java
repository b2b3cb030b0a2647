package ledgerstream.peer.processor;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

import ledgerstream.peer.rules.AccountState;
import ledgerstream.peer.rules.Rules;
import ledgerstream.peer.rules.TransferLeg;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * A task's accounts in two RocksDB stores, both changelogged:
 *
 * <pre>
 * accounts (cached)
 *   'A' account                   → the account's state ({@link AccountState})
 *   'T' transfer id, account      → its leg of that transfer
 * commands (not cached)
 *   'C' command id, account       → the outcome of a command in its idempotency window
 *   'R' window, slot, account     → the command id in that slot of the window's ring
 * </pre>
 *
 * The record cache folds an account's many writes within a commit interval into one
 * write to RocksDB and its changelog; the window's entries are each written once and
 * rarely read back, so caching them would only fill the cache (a sorted map) and evict.
 *
 * The windows (the last N applied and the last N rejected commands of each account, as
 * in domain/src/idempotency.rs) are rings of N slots: remembering a command overwrites
 * the oldest slot and forgets that slot's command. So each command writes two small
 * entries, instead of rewriting a whole window inside the account's value.
 */
final class AccountStore {
    private static final byte STATE = 'A';
    private static final byte TRANSFER = 'T';
    private static final byte COMMAND = 'C';
    private static final byte RING = 'R';
    private static final byte APPLIED = 'a';
    private static final byte REJECTED = 'r';

    private final KeyValueStore<Bytes, byte[]> store;
    private final KeyValueStore<Bytes, byte[]> commands;
    private final int window;

    AccountStore(KeyValueStore<Bytes, byte[]> store, KeyValueStore<Bytes, byte[]> commands, int window) {
        this.store = store;
        this.commands = commands;
        this.window = window;
    }

    AccountState state(byte[] account) {
        return AccountState.fromBytes(store.get(key(STATE, account)));
    }

    void putState(byte[] account, AccountState state) {
        store.put(key(STATE, account), state.toBytes());
    }

    /** The transfers of one account, for {@link Rules#decide} and {@link Rules#apply}. */
    Legs legs(byte[] account) {
        return new Legs(account);
    }

    final class Legs implements Rules.Transfers, Rules.LegWriter {
        private final byte[] account;

        private Legs(byte[] account) {
            this.account = account;
        }

        @Override
        public TransferLeg get(UUID transfer) {
            byte[] leg = store.get(idKey(TRANSFER, transfer, account));
            return leg == null ? null : TransferLeg.fromBytes(leg);
        }

        @Override
        public void put(UUID transfer, TransferLeg leg) {
            store.put(idKey(TRANSFER, transfer, account), leg.toBytes());
        }

        @Override
        public void refunded(UUID transfer) {
            TransferLeg leg = get(transfer);
            if (leg != null) {
                put(transfer, new TransferLeg(leg.debited(), leg.otherAccount(), leg.amountMinor(),
                        leg.feeMinor(), true));
            }
        }
    }

    /** What the command came to on this account, if it is in a window; null if not. */
    Outcome outcome(byte[] account, UUID command) {
        if (window == 0) {
            return null;
        }
        byte[] value = commands.get(idKey(COMMAND, command, account));
        return value == null ? null : Outcome.fromBytes(value);
    }

    /** Remembers that {@code command} left the account at {@code version}. */
    void rememberApplied(byte[] account, AccountState state, UUID command, long version) {
        remember(account, APPLIED, state.appliedCount(), command, Outcome.applied(version));
        state.countApplied();
    }

    /** Remembers a rejection, to give it again to the same command id. */
    void rememberRejected(byte[] account, AccountState state, UUID command, String code, String message) {
        remember(account, REJECTED, state.rejectedCount(), command, Outcome.rejected(code, message));
        state.countRejected();
    }

    private void remember(byte[] account, byte ring, long count, UUID command, Outcome outcome) {
        if (window == 0) {
            return;
        }
        Bytes slot = slotKey(ring, (int) (count % window), account);
        byte[] oldest = commands.get(slot);
        if (oldest != null) {
            commands.delete(idKey(COMMAND, uuid(oldest), account));
        }
        commands.put(slot, uuidBytes(command));
        commands.put(idKey(COMMAND, command, account), outcome.toBytes());
    }

    static byte[] utf8(String account) {
        return account.getBytes(StandardCharsets.UTF_8);
    }

    private static Bytes key(byte kind, byte[] account) {
        byte[] key = new byte[1 + account.length];
        key[0] = kind;
        System.arraycopy(account, 0, key, 1, account.length);
        return Bytes.wrap(key);
    }

    private static Bytes idKey(byte kind, UUID id, byte[] account) {
        return Bytes.wrap(ByteBuffer.allocate(1 + 16 + account.length)
                .put(kind)
                .putLong(id.getMostSignificantBits())
                .putLong(id.getLeastSignificantBits())
                .put(account)
                .array());
    }

    private static Bytes slotKey(byte ring, int slot, byte[] account) {
        return Bytes.wrap(ByteBuffer.allocate(1 + 1 + 4 + account.length)
                .put(RING)
                .put(ring)
                .putInt(slot)
                .put(account)
                .array());
    }

    private static byte[] uuidBytes(UUID id) {
        return ByteBuffer.allocate(16)
                .putLong(id.getMostSignificantBits())
                .putLong(id.getLeastSignificantBits())
                .array();
    }

    private static UUID uuid(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        return new UUID(in.getLong(), in.getLong());
    }
}
