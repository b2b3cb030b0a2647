package ledgerstream.peer.rules;

import java.nio.charset.StandardCharsets;

import ledgerstream.account.commands.CloseAccount;
import ledgerstream.account.commands.CreditTransfer;
import ledgerstream.account.commands.DebitTransfer;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.RefundTransfer;
import ledgerstream.account.commands.WithdrawMoney;
import ledgerstream.peer.wire.DecodeException;

/**
 * What is checked before a command touches any state (docs/rules.md, checks 1 and 3):
 * values the domain cannot hold make a dead letter (processors/src/wire/fields.rs), text
 * over its limit is answered {@code FIELD_TOO_LONG} (processors/src/wire/limits.rs).
 */
public final class Checks {
    public static final int MAX_ACCOUNT_ID_BYTES = 128;
    public static final int MAX_ID_BYTES = 128;
    public static final int MAX_TEXT_BYTES = 1024;

    private Checks() {}

    /** Throws the dead letter's failure for a value the domain cannot hold. */
    public static void wellFormed(Command c) throws DecodeException {
        String record = c.name();
        nonEmpty(record, "account_id", c.accountId());
        if (c.expectedVersion() != null && c.expectedVersion() < 0) {
            throw new DecodeException("out-of-range", record + ".expected_version: "
                    + c.expectedVersion() + " is out of range (0 or more)");
        }
        if (c.body() instanceof OpenAccount o) {
            nonEmpty(record, "owner_id", o.getOwnerId());
            currency(record, o.getCurrency());
        } else if (c.body() instanceof DepositMoney d) {
            currency(record, d.getCurrency());
        } else if (c.body() instanceof WithdrawMoney w) {
            currency(record, w.getCurrency());
        } else if (c.body() instanceof DebitTransfer d) {
            nonEmpty(record, "to_account_id", d.getToAccountId());
            currency(record, d.getCurrency());
        } else if (c.body() instanceof CreditTransfer t) {
            nonEmpty(record, "from_account_id", t.getFromAccountId());
            currency(record, t.getCurrency());
        } else if (c.body() instanceof RefundTransfer r) {
            nonEmpty(record, "to_account_id", r.getToAccountId());
            currency(record, r.getCurrency());
        }
    }

    /** The first text field over its limit, described for the sender; null when none is. */
    public static String tooLong(Command c) {
        String found = over("correlation_id", c.correlationId(), MAX_ID_BYTES);
        if (found == null) {
            found = over("causation_id", c.causationId(), MAX_ID_BYTES);
        }
        if (found == null) {
            if (c.body() instanceof OpenAccount o) {
                found = over("owner_id", o.getOwnerId(), MAX_ID_BYTES);
            } else if (c.body() instanceof DepositMoney d) {
                found = over("reference", d.getReference(), MAX_TEXT_BYTES);
            } else if (c.body() instanceof WithdrawMoney w) {
                found = over("reference", w.getReference(), MAX_TEXT_BYTES);
            } else if (c.body() instanceof DebitTransfer d) {
                found = over("reference", d.getReference(), MAX_TEXT_BYTES);
                if (found == null) {
                    found = over("to_account_id", d.getToAccountId(), MAX_ACCOUNT_ID_BYTES);
                }
            } else if (c.body() instanceof CreditTransfer t) {
                found = over("reference", t.getReference(), MAX_TEXT_BYTES);
            } else if (c.body() instanceof RefundTransfer r) {
                found = over("reason", r.getReason(), MAX_TEXT_BYTES);
            } else if (c.body() instanceof CloseAccount x) {
                found = over("reason", x.getReason(), MAX_TEXT_BYTES);
            }
        }
        return found == null ? null : c.name() + "." + found;
    }

    /** UTF-8 length; ASCII strings (all ids here) skip the encoder. */
    public static int utf8Length(String value) {
        int length = value.length();
        for (int i = 0; i < length; i++) {
            if (value.charAt(i) >= 0x80) {
                return value.getBytes(StandardCharsets.UTF_8).length;
            }
        }
        return length;
    }

    private static String over(String field, String value, int max) {
        // A string of at most max / 3 chars is within max bytes whatever it holds.
        if (value == null || value.length() <= max / 3) {
            return null;
        }
        int bytes = utf8Length(value);
        return bytes > max ? field + " is " + bytes + " bytes long; the limit is " + max : null;
    }

    private static void nonEmpty(String record, String field, String value) throws DecodeException {
        if (value.isEmpty()) {
            throw new DecodeException("empty-id", record + "." + field + " is empty");
        }
    }

    private static void currency(String record, String value) throws DecodeException {
        boolean shaped = value.length() == 3;
        for (int i = 0; shaped && i < 3; i++) {
            char ch = value.charAt(i);
            shaped = ch >= 'A' && ch <= 'Z';
        }
        if (!shaped) {
            throw new DecodeException("not-a-currency", record + ".currency: \"" + value
                    + "\" is not an ISO 4217 code (three capital letters)");
        }
    }
}
