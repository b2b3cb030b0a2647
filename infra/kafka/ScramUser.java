// Creates (or sets anew) a SCRAM user on a Kafka broker through the Admin API
// (AlterUserScramCredentials), with credentials for both SCRAM-SHA-256 and
// SCRAM-SHA-512, then reads them back (DescribeUserScramCredentials) to check.
// KRaft keeps SCRAM credentials in the cluster metadata: nothing is written to
// the broker's files.
//
// Run with the broker's own jars, as a single-file program (needs a JDK):
//   java -cp '<tools>/kafka-<version>/libs/*' infra/kafka/ScramUser.java \
//     127.0.0.1:9092 USER PASSWORD_FILE
// The bootstrap address is a listener the caller may use without a login (the
// local stack's PLAINTEXT one). The password is read from PASSWORD_FILE (one
// trailing newline ignored), never from the command line, where `ps` shows it;
// it is never printed. Exits 1 naming the step that failed.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;

public final class ScramUser {
    private static final int ITERATIONS = 8192;

    private ScramUser() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ScramUser.java BOOTSTRAP USER PASSWORD_FILE");
            System.exit(2);
        }
        String bootstrap = args[0];
        String user = args[1];
        String password = Files.readString(Path.of(args[2]), StandardCharsets.UTF_8);
        if (password.endsWith("\n")) {
            password = password.substring(0, password.length() - 1);
        }
        if (password.isEmpty()) {
            System.err.println("the password file " + args[2] + " is empty");
            System.exit(1);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        String step = "AlterUserScramCredentials";
        try (Admin admin = Admin.create(props)) {
            // One request per mechanism: the broker refuses two changes of one user in one.
            for (ScramMechanism mechanism : List.of(ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)) {
                List<UserScramCredentialAlteration> upsert = List.of(new UserScramCredentialUpsertion(
                        user, new ScramCredentialInfo(mechanism, ITERATIONS), password));
                admin.alterUserScramCredentials(upsert).all().get(30, TimeUnit.SECONDS);
            }
            step = "DescribeUserScramCredentials";
            UserScramCredentialsDescription described =
                    admin.describeUserScramCredentials(List.of(user)).description(user).get(30, TimeUnit.SECONDS);
            if (described.credentialInfos().size() < 2) {
                throw new IllegalStateException("the broker lists " + described.credentialInfos()
                        + " for the user, not both SCRAM mechanisms");
            }
        } catch (Exception error) {
            System.err.println("creating SCRAM user " + user + " at " + bootstrap + " failed at "
                    + step + ": " + error);
            System.exit(1);
        }
        System.out.println("SCRAM user " + user + " (SCRAM-SHA-256, SCRAM-SHA-512) set at " + bootstrap);
    }
}
