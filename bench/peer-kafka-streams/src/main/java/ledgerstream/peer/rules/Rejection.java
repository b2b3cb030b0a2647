package ledgerstream.peer.rules;

/**
 * A business rejection: the reason code of {@code CommandRejected} and its message. The
 * messages are the Rust domain's, word for word (domain/src/rejection.rs), so that both
 * processors write the same bytes.
 */
public record Rejection(String code, String message) {
    public static final String WRONG_PARTITION = "WRONG_PARTITION";
    public static final String FIELD_TOO_LONG = "FIELD_TOO_LONG";

    static Rejection accountNotFound(String account) {
        return new Rejection("ACCOUNT_NOT_FOUND", "account " + account + " has not been opened");
    }

    static Rejection accountAlreadyExists(String account) {
        return new Rejection("ACCOUNT_ALREADY_EXISTS", "account " + account + " already exists");
    }

    static Rejection accountClosed(String account) {
        return new Rejection("ACCOUNT_CLOSED", "account " + account + " is closed");
    }

    static Rejection ownerAccountLimit(String owner, int open, int limit) {
        return new Rejection("OWNER_ACCOUNT_LIMIT",
                "owner " + owner + " already has " + open + " open accounts; the limit is " + limit);
    }

    static Rejection initialDepositTooLow(long deposit, long minimum) {
        return new Rejection("INITIAL_DEPOSIT_TOO_LOW",
                "an initial deposit of " + deposit + " is below the minimum of " + minimum);
    }

    static Rejection invalidAmount(long amount, String problem) {
        return new Rejection("INVALID_AMOUNT", "invalid amount " + amount + ": " + problem);
    }

    static Rejection currencyMismatch(String expected, String actual) {
        return new Rejection("CURRENCY_MISMATCH",
                "currency " + actual + " does not match the account's currency " + expected);
    }

    static Rejection insufficientFunds(long balance, long needed) {
        return new Rejection("INSUFFICIENT_FUNDS",
                "balance " + balance + " does not cover " + needed + " (amount plus fee)");
    }

    static Rejection sameAccountTransfer(String account) {
        return new Rejection("SAME_ACCOUNT_TRANSFER", "account " + account + " cannot transfer to itself");
    }

    static Rejection nonzeroBalance(long balance) {
        return new Rejection("NONZERO_BALANCE",
                "account still holds " + balance + "; only an empty account can be closed");
    }

    static Rejection versionConflict(long expected, long actual) {
        return new Rejection("VERSION_CONFLICT",
                "expected version " + expected + ", but the account is at version " + actual);
    }

    /** Thrown inside a decision; carries no stack trace, since it is an answer, not a bug. */
    static final class Rejected extends Exception {
        final Rejection rejection;

        Rejected(Rejection rejection) {
            super(rejection.code, null, false, false);
            this.rejection = rejection;
        }
    }

    Rejected raise() {
        return new Rejected(this);
    }
}
