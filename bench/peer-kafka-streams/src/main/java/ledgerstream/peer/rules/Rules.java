package ledgerstream.peer.rules;

import java.time.Instant;
import java.util.UUID;

import ledgerstream.account.AccountType;
import ledgerstream.account.EventMetadata;
import ledgerstream.account.commands.CloseAccount;
import ledgerstream.account.commands.CreditTransfer;
import ledgerstream.account.commands.DebitTransfer;
import ledgerstream.account.commands.DepositMoney;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.RefundTransfer;
import ledgerstream.account.commands.WithdrawMoney;
import ledgerstream.account.events.AccountClosed;
import ledgerstream.account.events.AccountOpened;
import ledgerstream.account.events.MoneyDeposited;
import ledgerstream.account.events.MoneyWithdrawn;
import ledgerstream.account.events.TransferCredited;
import ledgerstream.account.events.TransferDebited;
import ledgerstream.account.events.TransferRefunded;
import org.apache.avro.specific.SpecificRecord;

/**
 * The business rules (docs/rules.md; the Rust source is domain/src/decide.rs and
 * evolve.rs): decide a command on an account's state, and fold the event decided into
 * the state. Every command decides at most one event, so a decision is an event, null
 * (nothing to do: a transfer already seen), or a {@link Rejection}.
 */
public final class Rules {
    public static final long MIN_INITIAL_DEPOSIT_MINOR = 100_00;
    public static final int MAX_OPEN_ACCOUNTS_PER_OWNER = 5;
    public static final long SAVINGS_FEE_THRESHOLD_MINOR = 1_000_00;
    public static final long SAVINGS_WITHDRAWAL_FEE_MINOR = 5_00;
    public static final long LARGE_TRANSFER_THRESHOLD_MINOR = 10_000_00;
    public static final long TRANSFER_FEE_MINOR = 2_00;
    public static final long LARGE_TRANSFER_FEE_MINOR = 10_00;

    /** This account's leg of a transfer, from the store. */
    public interface Transfers {
        TransferLeg get(UUID transferId);
    }

    /** What a decision needs besides state and command. */
    public record Context(Instant now, int ownerOpenAccounts, Transfers transfers, Ids ids) {}

    /** A decided event, or none, or a rejection. */
    public record Decision(SpecificRecord event, Rejection rejection) {
        public boolean rejected() {
            return rejection != null;
        }
    }

    private static final Decision NOTHING = new Decision(null, null);

    private Rules() {}

    public static long withdrawalFee(AccountType type, long amount) {
        return type == AccountType.SAVINGS && amount > SAVINGS_FEE_THRESHOLD_MINOR
                ? SAVINGS_WITHDRAWAL_FEE_MINOR : 0;
    }

    public static long transferFee(long amount) {
        return amount > LARGE_TRANSFER_THRESHOLD_MINOR ? LARGE_TRANSFER_FEE_MINOR : TRANSFER_FEE_MINOR;
    }

    /**
     * Decides {@code c} on {@code s}: existence, expected version, status, then the
     * command's own rules, the first broken rule being the answer. The idempotency window
     * is the caller's to check first.
     */
    public static Decision decide(AccountState s, Command c, Context ctx) {
        try {
            SpecificRecord event = decideOrThrow(s, c, ctx);
            return event == null ? NOTHING : new Decision(event, null);
        } catch (Rejection.Rejected r) {
            return new Decision(null, r.rejection);
        }
    }

    private static SpecificRecord decideOrThrow(AccountState s, Command c, Context ctx)
            throws Rejection.Rejected {
        SpecificRecord body = c.body();
        if (!s.opened) {
            if (!(body instanceof OpenAccount open)) {
                throw Rejection.accountNotFound(c.accountId()).raise();
            }
            checkVersion(c, s);
            return openAccount(s, c, open, ctx);
        }
        checkVersion(c, s);
        if (body instanceof OpenAccount) {
            throw Rejection.accountAlreadyExists(c.accountId()).raise();
        }
        if (body instanceof DepositMoney d) {
            return deposit(s, c, d, ctx);
        }
        if (body instanceof WithdrawMoney w) {
            return withdraw(s, c, w, ctx);
        }
        if (body instanceof DebitTransfer d) {
            return debit(s, c, d, ctx);
        }
        if (body instanceof CreditTransfer t) {
            return credit(s, c, t, ctx);
        }
        if (body instanceof RefundTransfer r) {
            return refund(s, c, r, ctx);
        }
        if (body instanceof CloseAccount x) {
            ensureOpen(s, c);
            if (s.balanceMinor != 0) {
                throw Rejection.nonzeroBalance(s.balanceMinor).raise();
            }
            return new AccountClosed(meta(s, c, ctx), x.getReason());
        }
        throw new IllegalArgumentException("not a command: " + body.getSchema().getFullName());
    }

    private static SpecificRecord openAccount(AccountState s, Command c, OpenAccount open, Context ctx)
            throws Rejection.Rejected {
        long deposit = positive(open.getInitialDepositMinor());
        if (deposit < MIN_INITIAL_DEPOSIT_MINOR) {
            throw Rejection.initialDepositTooLow(deposit, MIN_INITIAL_DEPOSIT_MINOR).raise();
        }
        if (ctx.ownerOpenAccounts() >= MAX_OPEN_ACCOUNTS_PER_OWNER) {
            throw Rejection.ownerAccountLimit(open.getOwnerId(), ctx.ownerOpenAccounts(),
                    MAX_OPEN_ACCOUNTS_PER_OWNER).raise();
        }
        return new AccountOpened(meta(s, c, ctx), open.getOwnerId(), open.getAccountType(),
                open.getCurrency(), deposit, deposit);
    }

    private static SpecificRecord deposit(AccountState s, Command c, DepositMoney d, Context ctx)
            throws Rejection.Rejected {
        ensureOpen(s, c);
        long amount = positive(d.getAmountMinor());
        ensureCurrency(s, d.getCurrency());
        return new MoneyDeposited(meta(s, c, ctx), amount, d.getCurrency(), receive(s, amount),
                d.getReference());
    }

    private static SpecificRecord withdraw(AccountState s, Command c, WithdrawMoney w, Context ctx)
            throws Rejection.Rejected {
        ensureOpen(s, c);
        long amount = positive(w.getAmountMinor());
        ensureCurrency(s, w.getCurrency());
        long fee = withdrawalFee(s.accountType, amount);
        long total = ensureFunds(s, amount, fee);
        return new MoneyWithdrawn(meta(s, c, ctx), amount, w.getCurrency(), fee,
                sub(s.balanceMinor, total), w.getReference(), w.getChannel());
    }

    private static SpecificRecord debit(AccountState s, Command c, DebitTransfer d, Context ctx)
            throws Rejection.Rejected {
        if (ctx.transfers().get(d.getTransferId()) != null) {
            return null;
        }
        ensureOpen(s, c);
        if (d.getToAccountId().equals(c.accountId())) {
            throw Rejection.sameAccountTransfer(c.accountId()).raise();
        }
        long amount = positive(d.getAmountMinor());
        ensureCurrency(s, d.getCurrency());
        long fee = transferFee(amount);
        long total = ensureFunds(s, amount, fee);
        return new TransferDebited(meta(s, c, ctx), d.getTransferId(), d.getToAccountId(), amount,
                d.getCurrency(), fee, sub(s.balanceMinor, total), d.getReference());
    }

    private static SpecificRecord credit(AccountState s, Command c, CreditTransfer t, Context ctx)
            throws Rejection.Rejected {
        if (ctx.transfers().get(t.getTransferId()) != null) {
            return null;
        }
        ensureOpen(s, c);
        if (t.getFromAccountId().equals(c.accountId())) {
            throw Rejection.sameAccountTransfer(c.accountId()).raise();
        }
        long amount = positive(t.getAmountMinor());
        ensureCurrency(s, t.getCurrency());
        return new TransferCredited(meta(s, c, ctx), t.getTransferId(), t.getFromAccountId(), amount,
                t.getCurrency(), receive(s, amount), t.getReference());
    }

    /** Refunds are owed: applied on a closed account too, once, if they match the debit. */
    private static SpecificRecord refund(AccountState s, Command c, RefundTransfer r, Context ctx)
            throws Rejection.Rejected {
        TransferLeg leg = ctx.transfers().get(r.getTransferId());
        if (leg == null || !leg.debited()) {
            throw Rejection.invalidAmount(r.getAmountMinor(),
                    "no transfer with this id was debited from this account").raise();
        }
        if (leg.refunded()) {
            return null;
        }
        ensureCurrency(s, r.getCurrency());
        if (!r.getToAccountId().equals(leg.otherAccount()) || r.getAmountMinor() != leg.amountMinor()
                || r.getFeeMinor() != leg.feeMinor()) {
            throw Rejection.invalidAmount(r.getAmountMinor(),
                    "the refund does not match the debited transfer").raise();
        }
        long total = add(leg.amountMinor(), leg.feeMinor());
        return new TransferRefunded(meta(s, c, ctx), r.getTransferId(), leg.otherAccount(),
                leg.amountMinor(), r.getCurrency(), leg.feeMinor(), add(s.balanceMinor, total),
                r.getReasonCode(), r.getReason());
    }

    /**
     * Folds {@code event} into {@code s}; a transfer leg it makes or changes is handed to
     * {@code legs}. The idempotency window is the caller's.
     */
    public static void apply(AccountState s, SpecificRecord event, LegWriter legs) {
        if (event instanceof AccountOpened o) {
            s.version = o.getMetadata().getVersion();
            s.opened = true;
            s.ownerId = o.getOwnerId();
            s.accountType = o.getAccountType();
            s.currency = o.getCurrency();
            s.balanceMinor = o.getBalanceAfterMinor();
            s.closed = false;
            s.refundableMinor = 0;
        } else if (event instanceof MoneyDeposited d) {
            s.version = d.getMetadata().getVersion();
            s.balanceMinor = d.getBalanceAfterMinor();
        } else if (event instanceof MoneyWithdrawn w) {
            s.version = w.getMetadata().getVersion();
            s.balanceMinor = w.getBalanceAfterMinor();
        } else if (event instanceof TransferDebited d) {
            s.version = d.getMetadata().getVersion();
            s.balanceMinor = d.getBalanceAfterMinor();
            s.refundableMinor = saturatingAdd(s.refundableMinor,
                    saturatingAdd(d.getAmountMinor(), d.getFeeMinor()));
            legs.put(d.getTransferId(), TransferLeg.debited(d.getToAccountId(), d.getAmountMinor(), d.getFeeMinor()));
        } else if (event instanceof TransferCredited t) {
            s.version = t.getMetadata().getVersion();
            s.balanceMinor = t.getBalanceAfterMinor();
            legs.put(t.getTransferId(), TransferLeg.credited(t.getFromAccountId(), t.getAmountMinor()));
        } else if (event instanceof TransferRefunded r) {
            s.version = r.getMetadata().getVersion();
            s.balanceMinor = r.getBalanceAfterMinor();
            s.refundableMinor = saturatingAdd(s.refundableMinor,
                    -saturatingAdd(r.getAmountMinor(), r.getFeeMinor()));
            legs.refunded(r.getTransferId());
        } else if (event instanceof AccountClosed x) {
            s.version = x.getMetadata().getVersion();
            s.closed = true;
        }
    }

    /** Where {@link #apply} puts transfer legs. */
    public interface LegWriter {
        void put(UUID transferId, TransferLeg leg);

        void refunded(UUID transferId);
    }

    private static EventMetadata meta(AccountState s, Command c, Context ctx) {
        String command = c.commandId().toString();
        return new EventMetadata(ctx.ids().eventId(c.accountId(), c.commandId(), 0), c.accountId(),
                s.version + 1, ctx.now(), c.commandId(), c.correlationId(), command);
    }

    private static void checkVersion(Command c, AccountState s) throws Rejection.Rejected {
        Long expected = c.expectedVersion();
        if (expected != null && expected != s.version) {
            throw Rejection.versionConflict(expected, s.version).raise();
        }
    }

    private static void ensureOpen(AccountState s, Command c) throws Rejection.Rejected {
        if (s.closed) {
            throw Rejection.accountClosed(c.accountId()).raise();
        }
    }

    private static void ensureCurrency(AccountState s, String currency) throws Rejection.Rejected {
        if (!s.currency.equals(currency)) {
            throw Rejection.currencyMismatch(s.currency, currency).raise();
        }
    }

    private static long ensureFunds(AccountState s, long amount, long fee) throws Rejection.Rejected {
        long needed = add(amount, fee);
        if (s.balanceMinor < needed) {
            throw Rejection.insufficientFunds(s.balanceMinor, needed).raise();
        }
        return needed;
    }

    /** The balance after receiving {@code amount}, leaving room for every pending refund. */
    private static long receive(AccountState s, long amount) throws Rejection.Rejected {
        long balance = add(s.balanceMinor, amount);
        try {
            Math.addExact(balance, s.refundableMinor);
        } catch (ArithmeticException e) {
            throw Rejection.invalidAmount(amount,
                    "too large: the balance could not take back this account's pending refunds").raise();
        }
        return balance;
    }

    private static long positive(long amount) throws Rejection.Rejected {
        if (amount <= 0) {
            throw Rejection.invalidAmount(amount, "must be greater than zero").raise();
        }
        return amount;
    }

    private static long add(long a, long b) throws Rejection.Rejected {
        try {
            return Math.addExact(a, b);
        } catch (ArithmeticException e) {
            throw Rejection.invalidAmount(b, "too large: the result would overflow").raise();
        }
    }

    private static long sub(long a, long b) throws Rejection.Rejected {
        try {
            return Math.subtractExact(a, b);
        } catch (ArithmeticException e) {
            throw Rejection.invalidAmount(b, "too large: the result would overflow").raise();
        }
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        if (((a ^ sum) & (b ^ sum)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return sum;
    }
}
