package ledgerstream.peer.processor;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

import ledgerstream.account.commands.CreditTransfer;
import ledgerstream.account.commands.OpenAccount;
import ledgerstream.account.commands.RefundTransfer;
import ledgerstream.account.events.AccountOpened;
import ledgerstream.account.events.TransferDebited;
import ledgerstream.account.results.CommandAccepted;
import ledgerstream.account.results.CommandRejected;
import ledgerstream.peer.rules.AccountState;
import ledgerstream.peer.rules.Checks;
import ledgerstream.peer.rules.Command;
import ledgerstream.peer.rules.Ids;
import ledgerstream.peer.rules.Rejection;
import ledgerstream.peer.rules.Rules;
import ledgerstream.peer.wire.Catalog;
import ledgerstream.peer.wire.Codec;
import ledgerstream.peer.wire.DecodeException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * One command, as processors/src/processor/command.rs handles it: decode, check the key
 * and the fields, check the partition and the text limits, look the account up, answer a
 * repeated command id with its first outcome, decide, fold the event into the state,
 * and forward the event, the result and any follow-up command. Kafka Streams commits
 * them, the state's changelog and the command's offset in one transaction per commit
 * interval (exactly_once_v2).
 */
final class CommandProcessor implements Processor<byte[], byte[], byte[], Routed> {
    static final String STORE = "accounts";
    static final String WINDOW_STORE = "commands";
    static final String EVENTS = "events";
    static final String RESULTS = "results";
    static final String FOLLOW_UPS = "follow-ups";
    static final String DEAD_LETTERS = "dead-letters";

    private final Catalog catalog;
    private final Topics topics;
    private final int window;
    private final boolean ownerView;

    private ProcessorContext<byte[], Routed> context;
    private Codec codec;
    private final Ids ids = new Ids();
    private AccountStore accounts;
    private OwnerView.Reader owners;

    CommandProcessor(Catalog catalog, Topics topics, int window, boolean ownerView) {
        this.catalog = catalog;
        this.topics = topics;
        this.window = window;
        this.ownerView = ownerView;
    }

    @Override
    public void init(ProcessorContext<byte[], Routed> context) {
        this.context = context;
        this.codec = new Codec(catalog);
        KeyValueStore<Bytes, byte[]> store = context.getStateStore(STORE);
        KeyValueStore<Bytes, byte[]> commands = context.getStateStore(WINDOW_STORE);
        this.accounts = new AccountStore(store, commands, window);
        if (ownerView) {
            ReadOnlyKeyValueStore<Bytes, byte[]> view = context.getStateStore(OwnerView.STORE);
            this.owners = new OwnerView.Reader(view);
        }
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        RecordMetadata source = context.recordMetadata().orElseThrow();
        int partition = source.partition();
        Command command;
        try {
            command = Command.of(codec.decode(record.value()));
        } catch (DecodeException e) {
            deadLetter(record, source, e.failure(), e.getMessage());
            return;
        }
        byte[] key = record.key();
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        if (!command.accountId().equals(keyText)) {
            deadLetter(record, source, "key-mismatch", "the record's key " + quote(keyText)
                    + " is not its account_id " + quote(command.accountId())
                    + ": commands are keyed by account id");
            return;
        }
        int accountBytes = Checks.utf8Length(command.accountId());
        if (accountBytes > Checks.MAX_ACCOUNT_ID_BYTES) {
            deadLetter(record, source, "field-too-long", "account_id is " + accountBytes
                    + " bytes long; the limit is " + Checks.MAX_ACCOUNT_ID_BYTES);
            return;
        }
        try {
            Checks.wellFormed(command);
        } catch (DecodeException e) {
            deadLetter(record, source, e.failure(), e.getMessage());
            return;
        }
        Instant now = Instant.ofEpochMilli(record.timestamp());
        int expected = partitionOf(key);
        if (expected != partition) {
            String text = "account " + command.accountId() + " belongs on partition " + expected
                    + " of " + topics.commands() + " (Kafka's murmur2 partitioner), not " + partition
                    + "; send commands keyed by account id with it";
            answer(key, partition, now, rejected(command, Rejection.WRONG_PARTITION, text, null, now));
            return;
        }
        String tooLong = Checks.tooLong(command);
        if (tooLong != null) {
            answer(key, partition, now, rejected(command, Rejection.FIELD_TOO_LONG, tooLong, null, now));
            return;
        }
        decide(record, source, key, command, now);
    }

    private void decide(Record<byte[], byte[]> record, RecordMetadata source, byte[] key,
            Command command, Instant now) {
        int partition = source.partition();
        AccountState state = accounts.state(key);
        long version = state.version();
        Long current = state.opened() ? version : null;
        Outcome repeated = accounts.outcome(key, command.commandId());
        if (repeated != null) {
            SpecificRecord result = repeated.applied()
                    ? accepted(command, repeated.version(), 0, partition, now)
                    : rejected(command, repeated.code(), repeated.message(), current, now);
            answer(key, partition, now, result);
            return;
        }
        int ownerAccounts = command.body() instanceof OpenAccount open && owners != null
                ? owners.openAccounts(open.getOwnerId()) : 0;
        AccountStore.Legs legs = accounts.legs(key);
        Rules.Decision decision = Rules.decide(state, command, new Rules.Context(now, ownerAccounts, legs, ids));
        if (decision.rejected()) {
            Rejection rejection = decision.rejection();
            accounts.rememberRejected(key, state, command.commandId(), rejection.code(), rejection.message());
            accounts.putState(key, state);
            if (command.body() instanceof CreditTransfer credit) {
                followUp(refundFor(command, credit, rejection, now), now);
            } else if (command.body() instanceof RefundTransfer refund) {
                deadLetter(record, source, "refund-rejected", "the refund of transfer "
                        + refund.getTransferId() + " (" + (refund.getAmountMinor() + refund.getFeeMinor())
                        + " " + refund.getCurrency() + " to account " + command.accountId()
                        + ") was rejected (" + rejection.code() + ": " + rejection.message()
                        + "); the debited money is not back: settle it by hand");
            }
            answer(key, partition, now, rejected(command, rejection.code(), rejection.message(), current, now));
            return;
        }
        SpecificRecord event = decision.event();
        if (event == null) {
            // A transfer this account already took part in: nothing more to do.
            answer(key, partition, now, accepted(command, version, 0, partition, now));
            return;
        }
        Rules.apply(state, event, legs);
        accounts.rememberApplied(key, state, command.commandId(), state.version());
        accounts.putState(key, state);
        context.forward(new Record<>(key, new Routed(codec.encode(event), partition), now.toEpochMilli()), EVENTS);
        if (event instanceof AccountOpened opened && owners != null) {
            owners.opened(opened.getOwnerId(), command.accountId());
        } else if (event instanceof TransferDebited debited) {
            followUp(creditFor(debited), now);
        }
        answer(key, partition, now, accepted(command, state.version(), 1, partition, now));
    }

    private void answer(byte[] key, int partition, Instant now, SpecificRecord result) {
        context.forward(new Record<>(key, new Routed(codec.encode(result), partition), now.toEpochMilli()), RESULTS);
    }

    /** A command the processor sends itself, to its account's partition. */
    private void followUp(SpecificRecord command, Instant now) {
        String account = command instanceof CreditTransfer c ? c.getAccountId() : ((RefundTransfer) command).getAccountId();
        byte[] key = account.getBytes(StandardCharsets.UTF_8);
        context.forward(new Record<>(key, new Routed(codec.encode(command), partitionOf(key)), now.toEpochMilli()),
                FOLLOW_UPS);
    }

    private CreditTransfer creditFor(TransferDebited debited) {
        var meta = debited.getMetadata();
        return new CreditTransfer(ids.followUpId(debited.getTransferId(), "credit"),
                debited.getToAccountId(), null, meta.getOccurredAt(), meta.getCorrelationId(),
                meta.getEventId().toString(), debited.getTransferId(), meta.getAccountId(),
                debited.getAmountMinor(), debited.getCurrency(), debited.getReference());
    }

    private RefundTransfer refundFor(Command command, CreditTransfer credit, Rejection rejection, Instant now) {
        return new RefundTransfer(ids.followUpId(credit.getTransferId(), "refund"),
                credit.getFromAccountId(), null, now, command.correlationId(),
                command.commandId().toString(), credit.getTransferId(), command.accountId(),
                credit.getAmountMinor(), credit.getCurrency(), Rules.transferFee(credit.getAmountMinor()),
                rejection.code(), rejection.message());
    }

    /**
     * {@code CommandAccepted}. Its {@code first_event_offset} is -1: a Kafka Streams
     * processor does not learn the offsets of what it forwards before the commit.
     */
    private static CommandAccepted accepted(Command c, long version, int eventCount, int partition, Instant now) {
        return new CommandAccepted(c.commandId(), c.accountId(), c.correlationId(), now, version,
                eventCount, partition, -1L);
    }

    private static CommandRejected rejected(Command c, String code, String message, Long current, Instant now) {
        return new CommandRejected(c.commandId(), c.accountId(), c.correlationId(), now, code, message, current);
    }

    /** The record as it was read, with Kafka Connect's dead-letter headers. */
    private void deadLetter(Record<byte[], byte[]> record, RecordMetadata source, String failure, String message) {
        RecordHeaders headers = new RecordHeaders();
        headers.add("__connect.errors.topic", utf8(source.topic()));
        headers.add("__connect.errors.partition", utf8(Integer.toString(source.partition())));
        headers.add("__connect.errors.offset", utf8(Long.toString(source.offset())));
        headers.add("__connect.errors.connector.name", utf8("processor"));
        headers.add("__connect.errors.exception.class.name", utf8(failure));
        headers.add("__connect.errors.exception.message", utf8(message));
        context.forward(new Record<>(record.key(), new Routed(record.value(), -1), record.timestamp(), headers),
                DEAD_LETTERS);
    }

    private int partitionOf(byte[] key) {
        return Utils.toPositive(Utils.murmur2(key)) % topics.partitions();
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** At most 64 characters, quoted, for messages that quote what was sent. */
    private static String quote(String text) {
        if (text == null) {
            return "\"(none)\"";
        }
        return "\"" + (text.length() > 64 ? text.substring(0, 64) + "…" : text) + "\"";
    }
}
