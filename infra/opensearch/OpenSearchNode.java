// One OpenSearch node in this JVM, from the jars infra/opensearch/pom.xml names:
//   java -cp '<tools>/opensearch-<version>/libs/*' infra/opensearch/OpenSearchNode.java HOME
// HOME holds config/opensearch.yml and config/log4j2.properties (infra/local/services/
// search.sh writes both at each start); the data and logs paths are in opensearch.yml.
//
// What the release tarball's start script and Bootstrap would do, cut to what a local
// node on loopback needs: the settings come from config/, logging from log4j2.properties,
// and the modules the tarball loads from its modules/ folder are passed as classpath
// plugins instead (Node's protected constructor takes them, as the test framework's
// MockNode does). No security manager, native calls or bootstrap checks: those guard a
// production node bound to the network, and Bootstrap enforces them, not Node.
// SIGTERM closes the node, flushing its shards, before the JVM exits.

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public class OpenSearchNode {
    /** The modules of the tarball that the project's requests need. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class, // HTTP and transport
        CommonAnalysisPlugin.class, // analyzers and token filters beyond `standard`
        MapperExtrasPlugin.class, // scaled_float, rank_feature, search_as_you_type...
        PainlessPlugin.class); // scripts

    /** Node's constructor for classpath plugins is protected. */
    static final class LocalNode extends Node {
        LocalNode(Environment environment) {
            super(environment, MODULES, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: OpenSearchNode HOME (with HOME/config/opensearch.yml)");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        LogConfigurator.registerErrorListener();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            Settings.builder().put("path.home", home.toString()).build(),
            Map.of(), home.resolve("config"), () -> "search");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        Node node = new LocalNode(environment);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "close-node"));
        try {
            node.start();
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        // The node's threads are daemons: this one keeps the JVM up until SIGTERM.
        closed.await();
    }
}
