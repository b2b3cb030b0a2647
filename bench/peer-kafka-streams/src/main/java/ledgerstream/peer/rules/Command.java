package ledgerstream.peer.rules;

import java.time.Instant;
import java.util.UUID;

import ledgerstream.account.commands.CloseAccount;
import ledgerstream.account.commands.CreditTransfer;
import ledgerstream.account.commands.DebitTransfer;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.RefundTransfer;
import ledgerstream.account.commands.WithdrawMoney;
import ledgerstream.peer.wire.DecodeException;
import org.apache.avro.specific.SpecificRecord;

/**
 * A decoded command: the fields every command record carries, and the record itself for
 * what is its own. The generated classes share no interface, hence this one place that
 * knows all seven.
 */
public record Command(UUID commandId, String accountId, Long expectedVersion, Instant issuedAt,
        String correlationId, String causationId, SpecificRecord body) {

    /** The command in {@code record}, or why the record is not one (a dead letter). */
    public static Command of(SpecificRecord record) throws DecodeException {
        if (record instanceof DepositMoney c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof WithdrawMoney c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof OpenAccount c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof DebitTransfer c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof CreditTransfer c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof RefundTransfer c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        if (record instanceof CloseAccount c) {
            return new Command(c.getCommandId(), c.getAccountId(), c.getExpectedVersion(),
                    c.getIssuedAt(), c.getCorrelationId(), c.getCausationId(), c);
        }
        throw new DecodeException("unexpected-record",
                record.getSchema().getFullName() + " is not a command");
    }

    /** The record's name, e.g. {@code DepositMoney}. */
    public String name() {
        return body.getSchema().getName();
    }
}
