package ledgerstream.peer.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import ledgerstream.account.AccountType;
import ledgerstream.account.Channel;
import ledgerstream.account.commands.CloseAccount;
import ledgerstream.account.commands.DebitTransfer;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.RefundTransfer;
import ledgerstream.account.commands.WithdrawMoney;
import ledgerstream.account.events.MoneyDeposited;
import ledgerstream.account.events.MoneyWithdrawn;
import ledgerstream.account.events.TransferDebited;
import ledgerstream.account.events.TransferRefunded;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

/** The rules the peer applies, given/when/then, against docs/rules.md. */
class RulesTest {
    private static final Instant NOW = Instant.ofEpochMilli(1_763_726_400_000L);
    private static final String ACCOUNT = "acc-1";
    private final Ids ids = new Ids();
    private final Map<UUID, TransferLeg> legs = new HashMap<>();
    private final Rules.LegWriter writer = new Rules.LegWriter() {
        @Override
        public void put(UUID transfer, TransferLeg leg) {
            legs.put(transfer, leg);
        }

        @Override
        public void refunded(UUID transfer) {
            legs.computeIfPresent(transfer, (t, leg) -> leg.asRefunded());
        }
    };

    private AccountState given(SpecificRecord... commands) {
        AccountState state = new AccountState();
        for (SpecificRecord command : commands) {
            Rules.Decision d = when(state, command);
            assertFalse(d.rejected(), () -> "given " + command + ": " + d.rejection());
            Rules.apply(state, d.event(), writer);
        }
        return state;
    }

    private Rules.Decision when(AccountState state, SpecificRecord command) {
        try {
            return Rules.decide(state, Command.of(command), new Rules.Context(NOW, 0, legs::get, ids));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static OpenAccount open(AccountType type, long deposit) {
        return new OpenAccount(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, "owner-1", type, deposit, "USD");
    }

    private static DepositMoney deposit(long amount, String currency) {
        return new DepositMoney(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, amount, currency, null);
    }

    private static WithdrawMoney withdraw(long amount) {
        return new WithdrawMoney(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, amount, "USD", null, Channel.ATM);
    }

    @Test
    void the_event_id_derivation_is_the_rust_one() {
        // domain/src/tests/ids.rs, GOLDEN.
        UUID id = ids.eventId("acc-1", new UUID(0, 1), 0);
        assertEquals("5fac9a08-6a72-5a74-83c0-777dfd26f0bc", id.toString());
    }

    @Test
    void a_deposit_raises_the_balance_and_the_version() {
        AccountState state = given(open(AccountType.CHECKING, 100_00));
        MoneyDeposited event = (MoneyDeposited) when(state, deposit(25_00, "USD")).event();
        assertEquals(125_00, event.getBalanceAfterMinor());
        assertEquals(2, event.getMetadata().getVersion());
        assertEquals(event.getMetadata().getCommandId().toString(), event.getMetadata().getCausationId());
    }

    @Test
    void commands_before_the_open_are_not_found() {
        Rules.Decision d = when(new AccountState(), deposit(1_00, "USD"));
        assertEquals("ACCOUNT_NOT_FOUND", d.rejection().code());
        assertEquals("account acc-1 has not been opened", d.rejection().message());
    }

    @Test
    void rejections_in_the_documented_order() {
        assertEquals("INITIAL_DEPOSIT_TOO_LOW", when(new AccountState(), open(AccountType.CHECKING, 99_99)).rejection().code());
        AccountState state = given(open(AccountType.CHECKING, 100_00));
        assertEquals("ACCOUNT_ALREADY_EXISTS", when(state, open(AccountType.CHECKING, 100_00)).rejection().code());
        assertEquals("INVALID_AMOUNT", when(state, deposit(0, "USD")).rejection().code());
        assertEquals("currency EUR does not match the account's currency USD",
                when(state, deposit(1_00, "EUR")).rejection().message());
        assertEquals("balance 10000 does not cover 10001 (amount plus fee)",
                when(state, withdraw(100_01)).rejection().message());
        assertEquals("NONZERO_BALANCE", when(state, new CloseAccount(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, null))
                .rejection().code());
        DepositMoney stale = deposit(1_00, "USD");
        stale.setExpectedVersion(7L);
        assertEquals("expected version 7, but the account is at version 1", when(state, stale).rejection().message());
    }

    @Test
    void savings_pay_a_fee_on_large_withdrawals() {
        AccountState state = given(open(AccountType.SAVINGS, 2_000_00));
        MoneyWithdrawn small = (MoneyWithdrawn) when(state, withdraw(1_000_00)).event();
        assertEquals(0, small.getFeeMinor());
        MoneyWithdrawn large = (MoneyWithdrawn) when(state, withdraw(1_000_01)).event();
        assertEquals(5_00, large.getFeeMinor());
        assertEquals(2_000_00 - 1_000_01 - 5_00, large.getBalanceAfterMinor());
    }

    @Test
    void a_closed_account_takes_nothing_but_its_refunds() {
        AccountState state = given(open(AccountType.CHECKING, 100_00));
        UUID transfer = UUID.randomUUID();
        DebitTransfer debit = new DebitTransfer(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, transfer,
                "acc-2", 98_00L, "USD", null);
        Rules.Decision decided = when(state, debit);
        assertNull(decided.rejection());
        TransferDebited debited = (TransferDebited) decided.event();
        assertEquals(2_00, debited.getFeeMinor());
        assertEquals(0, debited.getBalanceAfterMinor());
        Rules.apply(state, debited, writer);
        assertNull(when(state, debit).event(), "a transfer is debited once");
        assertFalse(when(state, debit).rejected());
        Rules.apply(state, when(state, new CloseAccount(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, null)).event(), writer);
        assertEquals("ACCOUNT_CLOSED", when(state, deposit(1_00, "USD")).rejection().code());
        RefundTransfer refund = new RefundTransfer(UUID.randomUUID(), ACCOUNT, null, NOW, "c", null, transfer,
                "acc-2", 98_00L, "USD", 2_00L, "ACCOUNT_NOT_FOUND", "account acc-2 has not been opened");
        TransferRefunded refunded = (TransferRefunded) when(state, refund).event();
        assertEquals(100_00, refunded.getBalanceAfterMinor());
        Rules.apply(state, refunded, writer);
        assertTrue(legs.get(transfer).refunded());
        assertNull(when(state, refund).event(), "a refund happens once");
    }
}
