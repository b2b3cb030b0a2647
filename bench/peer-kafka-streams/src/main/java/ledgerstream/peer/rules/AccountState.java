package ledgerstream.peer.rules;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import ledgerstream.account.AccountType;

/**
 * One account as its events tell it (domain/src/state.rs), without the two parts that
 * grow: its transfers and its idempotency window live under keys of their own in the
 * store ({@link StateKeys}), so the value written per changed account stays ~60 bytes.
 * Mutable: the processor reads it, decides, folds the events in and writes it back.
 */
public final class AccountState {
    /** The version of the last event; 0 before the account is opened. */
    long version;
    /** Whether it was opened; the fields below mean nothing before. */
    boolean opened;
    String ownerId;
    AccountType accountType;
    String currency;
    long balanceMinor;
    boolean closed;
    /** Amount plus fee of every transfer debited here and not refunded. */
    long refundableMinor;
    /** Commands applied and rejected so far: the next slot of each window's ring. */
    long appliedCount;
    long rejectedCount;

    public long version() {
        return version;
    }

    public boolean opened() {
        return opened;
    }

    public long balanceMinor() {
        return balanceMinor;
    }

    public String ownerId() {
        return ownerId;
    }

    public long appliedCount() {
        return appliedCount;
    }

    public long rejectedCount() {
        return rejectedCount;
    }

    public void countApplied() {
        appliedCount++;
    }

    public void countRejected() {
        rejectedCount++;
    }

    /** The store's value: fixed fields, then the three strings as length-prefixed UTF-8. */
    public byte[] toBytes() {
        byte[] owner = opened ? ownerId.getBytes(StandardCharsets.UTF_8) : new byte[0];
        byte[] money = opened ? currency.getBytes(StandardCharsets.UTF_8) : new byte[0];
        ByteBuffer out = ByteBuffer.allocate(8 + 1 + 8 + 8 + 8 + 8 + 1 + 4 + owner.length + 4 + money.length);
        out.putLong(version);
        byte flags = (byte) ((opened ? 1 : 0) | (closed ? 2 : 0));
        out.put(flags);
        out.putLong(balanceMinor);
        out.putLong(refundableMinor);
        out.putLong(appliedCount);
        out.putLong(rejectedCount);
        out.put((byte) (opened ? accountType.ordinal() : 0));
        out.putInt(owner.length).put(owner);
        out.putInt(money.length).put(money);
        return out.array();
    }

    public static AccountState fromBytes(byte[] bytes) {
        AccountState state = new AccountState();
        if (bytes == null) {
            return state;
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        state.version = in.getLong();
        byte flags = in.get();
        state.opened = (flags & 1) != 0;
        state.closed = (flags & 2) != 0;
        state.balanceMinor = in.getLong();
        state.refundableMinor = in.getLong();
        state.appliedCount = in.getLong();
        state.rejectedCount = in.getLong();
        int type = in.get();
        String owner = string(in);
        String money = string(in);
        if (state.opened) {
            state.accountType = AccountType.values()[type];
            state.ownerId = owner;
            state.currency = money;
        }
        return state;
    }

    private static String string(ByteBuffer in) {
        int length = in.getInt();
        String value = new String(in.array(), in.position(), length, StandardCharsets.UTF_8);
        in.position(in.position() + length);
        return value;
    }
}
