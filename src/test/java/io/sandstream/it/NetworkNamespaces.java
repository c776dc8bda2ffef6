package io.sandstream.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Hosts for the multi-instance tests: each node (a service instance, the broker) gets a network
 * namespace of its own with one veth pair into a bridge and one address on a /24, so instances
 * reach each other and the broker only over that network, as the hosts of a cluster do (their
 * loopback is their own). The test JVM reaches every node through the bridge's address.
 *
 * <p>Owns only what it creates: every name carries this JVM's pid (namespaces
 * {@code sandstream-it-<pid>-<node>}, the bridge {@code ssit<pid>b}, host-side veths
 * {@code ssit<pid>n<k>}), the subnet is a {@code 10.x.y.0/24} no route of the host overlaps, and
 * {@link #close()} (also run by a shutdown hook) kills what still runs in them and removes them.
 * Leftovers under this JVM's own names (a crashed earlier run with the same pid) are removed
 * first. Needs root and iproute2: without them it fails with a clear message, never falls back to
 * loopback.
 */
public final class NetworkNamespaces implements AutoCloseable {

    private static final long PID = ProcessHandle.current().pid();
    private static final String NAMESPACE_PREFIX = "sandstream-it-" + PID + "-";
    private static final String LINK_PREFIX = "ssit" + PID;
    private static final String BRIDGE = LINK_PREFIX + "b";
    private static final Path NETNS_DIR = Path.of("/run/netns");

    /** One host: its namespace, its address on the bridge's subnet, and its veth's host end. */
    public record Node(String namespace, String address, String hostLink) {

        /**
         * The command prefix that runs a command on this node. {@code nsenter --net} rather than
         * {@code ip netns exec}: the latter also remounts {@code /sys}, which hides
         * {@code /sys/fs/cgroup} from the sandboxes' memory limits.
         */
        public List<String> enter() {
            return List.of("nsenter", "--net=" + NETNS_DIR.resolve(namespace), "--");
        }
    }

    private final String subnet;
    private final List<Node> nodes = new ArrayList<>();
    private final Thread shutdownHook = new Thread(this::removeAll, "network-namespaces-cleanup");
    private boolean closed;

    private NetworkNamespaces(String subnet) {
        this.subnet = subnet;
    }

    /** A bridge on a free subnet, with its address ({@code .1}) for the test JVM. */
    public static NetworkNamespaces create() {
        removeLeftovers();
        NetworkNamespaces network = new NetworkNamespaces(freeSubnet());
        Runtime.getRuntime().addShutdownHook(network.shutdownHook);
        try {
            ip("link", "add", BRIDGE, "type", "bridge");
            ip("addr", "add", network.subnet + "1/24", "dev", BRIDGE);
            ip("link", "set", BRIDGE, "up");
        } catch (RuntimeException e) {
            network.close();
            throw e;
        }
        return network;
    }

    /**
     * The node named {@code name}, up and reachable from the test JVM: a new one, or the one of that
     * name made before (a host a service restarts on keeps its address).
     */
    public synchronized Node node(String name) {
        for (Node node : nodes) {
            if (node.namespace().equals(NAMESPACE_PREFIX + name)) {
                return node;
            }
        }
        int index = nodes.size();
        Node node = new Node(NAMESPACE_PREFIX + name, subnet + (index + 2), LINK_PREFIX + "n" + index);
        nodes.add(node);
        ip("netns", "add", node.namespace());
        ip("link", "add", node.hostLink(), "type", "veth", "peer", "name", "eth0", "netns", node.namespace());
        ip("link", "set", node.hostLink(), "master", BRIDGE, "up");
        ip("-n", node.namespace(), "addr", "add", node.address() + "/24", "dev", "eth0");
        ip("-n", node.namespace(), "link", "set", "eth0", "up");
        ip("-n", node.namespace(), "link", "set", "lo", "up");
        return node;
    }

    /**
     * Node loss: the node vanishes from the network (its link goes down, so its peers see no FIN or
     * RST, only silence), then every process on it and every descendant (the sandboxes, which run in
     * namespaces of their own) is stopped and SIGKILLed, as when a machine loses power.
     */
    public void lose(Node node) {
        ip("link", "set", node.hostLink(), "down");
        killAll(node);
    }

    /** Kills what still runs on each node, removes the namespaces and the bridge. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook itself runs
        }
        removeAll();
    }

    private synchronized void removeAll() {
        for (Node node : nodes) {
            try {
                killAll(node);
            } catch (RuntimeException e) {
                System.err.println("NetworkNamespaces: " + e.getMessage());
            }
            quietly("netns", "delete", node.namespace());
        }
        quietly("link", "delete", BRIDGE);
    }

    /** SIGSTOP first, so nothing on the node starts another process meanwhile, then SIGKILL to all. */
    private static void killAll(Node node) {
        if (!Files.exists(NETNS_DIR.resolve(node.namespace()))) {
            return;
        }
        List<ProcessHandle> processes = quietly("netns", "pids", node.namespace()).lines().filter(l -> !l.isBlank())
                .map(l -> ProcessHandle.of(Long.parseLong(l.trim()))).flatMap(java.util.Optional::stream).toList();
        if (processes.isEmpty()) {
            return;
        }
        signal("STOP", processes);
        List<ProcessHandle> all = processes.stream().flatMap(p -> Stream.concat(Stream.of(p), p.descendants())).toList();
        signal("KILL", all);
        // Not onExit(): for a process that is not this JVM's child it polls at 300 ms and more, and
        // an orphan's zombie (dead, waiting for init) still counts as alive there.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (ProcessHandle process : all) {
            while (!dead(process)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("process " + process.pid() + " on " + node.namespace() + " survived SIGKILL");
                }
                sleep(10);
            }
        }
    }

    /** Gone, or a zombie: it runs nothing any more. */
    private static boolean dead(ProcessHandle process) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
            return !process.isAlive() || stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException gone) {
            return true;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void signal(String signal, List<ProcessHandle> processes) {
        List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
        processes.forEach(p -> command.add(Long.toString(p.pid())));
        run(command); // a process that ended meanwhile makes kill answer 1: the others were signalled
    }

    /** Namespaces and links under this JVM's own names, left by a crashed earlier run with the same pid. */
    private static void removeLeftovers() {
        try (Stream<Path> namespaces = Files.exists(NETNS_DIR) ? Files.list(NETNS_DIR) : Stream.empty()) {
            namespaces.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(NAMESPACE_PREFIX)).forEach(n -> {
                killAll(new Node(n, "", ""));
                quietly("netns", "delete", n);
            });
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + NETNS_DIR, e);
        }
        quietly("-o", "link", "show").lines().map(l -> l.split(":\\s+|@", 3)).filter(f -> f.length > 1)
                .map(f -> f[1]).filter(n -> n.equals(BRIDGE) || n.matches(LINK_PREFIX + "n\\d+"))
                .forEach(n -> quietly("link", "delete", n));
    }

    /** A {@code 10.x.y.0/24} that no route of the host overlaps, the first from one derived from the pid. */
    private static String freeSubnet() {
        List<int[]> routes = quietly("-4", "-o", "route", "show", "table", "all").lines()
                // "10.0.0.0/8 dev …", "local 127.0.0.1 dev …": the destination is the first or second word
                .flatMap(l -> Stream.of(l.split("\\s+")).limit(2).filter(w -> w.matches("[\\d.]+(/\\d+)?")).limit(1))
                .map(NetworkNamespaces::prefix).toList();
        for (int i = 0; i < 32_768; i++) {
            int candidate = (int) ((PID + i) % 32_768); // 10.128.0.0 – 10.255.255.0
            int network = (10 << 24) | ((128 + candidate / 256) << 16) | (candidate % 256) << 8;
            if (routes.stream().noneMatch(r -> overlaps(r[0], r[1], network, 24))) {
                return "10." + (128 + candidate / 256) + "." + candidate % 256 + ".";
            }
        }
        throw new IllegalStateException("no free 10.x.y.0/24 for the test network");
    }

    private static int[] prefix(String cidr) {
        String[] parts = cidr.split("/");
        int address = 0;
        for (String octet : parts[0].split("\\.")) {
            address = address << 8 | Integer.parseInt(octet);
        }
        return new int[] {address, parts.length > 1 ? Integer.parseInt(parts[1]) : 32};
    }

    private static boolean overlaps(int a, int aLength, int b, int bLength) {
        int shorter = Math.min(aLength, bLength);
        int mask = shorter == 0 ? 0 : -1 << (32 - shorter);
        return (a & mask) == (b & mask);
    }

    /** Runs {@code ip} with these arguments; a failure is the test's (with why: typically not root). */
    private static String ip(String... args) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Result result = run(command);
        if (result.status() != 0) {
            throw new IllegalStateException("The multi-instance tests run each instance and the broker in a network "
                    + "namespace of its own (iproute2, as root); `" + String.join(" ", command) + "` failed ("
                    + result.status() + "): " + result.output().strip());
        }
        return result.output();
    }

    private static String quietly(String... args) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        return run(command).output();
    }

    private record Result(int status, String output) {
    }

    private static Result run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(process.waitFor(), output);
        } catch (IOException e) {
            return new Result(-1, "cannot run " + command.get(0) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + command, e);
        }
    }
}
