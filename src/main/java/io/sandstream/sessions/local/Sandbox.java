package io.sandstream.sessions.local;

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.Counter;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Output;
import io.sandstream.sessions.ExecutionResult.LimitHit;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionUpdate;

/**
 * One bubblewrap sandbox with its language runner: the process, its three channels and the
 * enforcement of every per-execution limit. Requests go as JSON lines to the runner's stdin;
 * answers come back as JSON lines on a control FIFO (fd 3 inside); user output arrives raw on
 * stdout and stderr and is cut at a per-execution marker the runner writes after the code ends.
 * Everything coming out of the sandbox is untrusted: a malformed answer kills the sandbox.
 */
final class Sandbox {

    enum State { STARTING, IDLE, BUSY, DEAD }

    private static final Logger LOG = Logger.getLogger(Sandbox.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final AtomicLong IDS = new AtomicLong();
    private static final int CHUNK = 64 * 1024;
    private static final long CPU_WATCH_MS = 100;
    /** The end of V8's fatal message when the heap is exhausted. */
    private static final String HEAP_EXHAUSTED = "JavaScript heap out of memory";

    final String id;
    private final SandboxLauncher launcher;
    private final SandstreamConfig.Limits limits;
    private final Duration interruptGrace;
    private final ScheduledExecutorService timers;
    private final int uid;
    private final Process process;
    private final OutputStream requests;
    private final Map<Long, CompletableFuture<JsonNode>> pendingAnswers = new ConcurrentHashMap<>();
    private final CompletableFuture<JsonNode> ready = new CompletableFuture<>();
    private final AtomicLong requestIds = new AtomicLong();
    private final OutputRouter stdout;
    private final OutputRouter stderr;
    /** Bytes read from the sandbox's stdout and stderr, whether an execution took them or not. */
    private final Counter outputRead;
    private volatile State state = State.STARTING;
    private volatile Run current;
    private volatile LimitHit killedFor;
    private volatile long runnerPid = -1;
    /** Opened at the first execution, closed when the sandbox is gone. */
    private volatile Cgroups.OomKillCount oomKillCount;
    /** Our end of the control FIFO; we hold it read-write, so its reader never sees end-of-file. */
    private volatile RandomAccessFile control;
    final Instant createdAt = Instant.now();

    private Sandbox(String id, SandboxLauncher launcher, SandstreamConfig.Limits limits, Duration interruptGrace,
            ScheduledExecutorService timers, int uid, Process process, Counter outputRead) {
        this.id = id;
        this.launcher = launcher;
        this.limits = limits;
        this.interruptGrace = interruptGrace;
        this.timers = timers;
        this.uid = uid;
        this.process = process;
        this.requests = process.getOutputStream();
        this.outputRead = outputRead;
        this.stdout = new OutputRouter(ExecutionUpdate.Stream.STDOUT, process.getInputStream());
        this.stderr = new OutputRouter(ExecutionUpdate.Stream.STDERR, process.getErrorStream());
    }

    /**
     * Starts a sandbox and waits (on the calling worker thread) until its runner is ready;
     * {@code outputRead} counts every byte read from its stdout and stderr.
     */
    static Sandbox start(SandboxLauncher launcher, Runner runner, SandstreamConfig.Limits limits,
            Duration interruptGrace, ScheduledExecutorService timers, Counter outputRead) throws IOException {
        String id = launcher.idPrefix + "-" + IDS.incrementAndGet();
        int uid = launcher.allocateUid();
        Process process;
        try {
            process = launcher.start(id, uid, runner, limits);
        } catch (IOException | RuntimeException e) {
            launcher.releaseUid(uid);
            launcher.cleanup(id);
            throw e;
        }
        Sandbox sandbox = new Sandbox(id, launcher, limits, interruptGrace, timers, uid, process, outputRead);
        sandbox.begin();
        try {
            sandbox.ready.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            sandbox.kill(null);
            throw new IOException("the sandbox did not start: " + sandbox.diagnostics(), e);
        }
        return sandbox;
    }

    private void begin() throws IOException {
        // Read-write open of a FIFO never blocks, whatever the other side does.
        control = new RandomAccessFile(launcher.controlFifo(id).toFile(), "rw");
        thread("ctl", () -> readControl(new FileInputStream(control.getFD()), control));
        thread("out", stdout::pump);
        thread("err", stderr::pump);
        process.onExit().thenRun(this::exited);
    }

    private void thread(String name, ThrowingRunnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Exception e) {
                if (state != State.DEAD) {
                    LOG.debugf("sandbox %s %s reader stopped: %s", id, name, e.getMessage());
                }
            }
        }, "sandbox-" + id + "-" + name);
        t.setDaemon(true);
        t.start();
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    State state() {
        return state;
    }

    boolean alive() {
        return state != State.DEAD && process.isAlive();
    }

    // ---- control channel ---------------------------------------------------------------------------

    private void readControl(InputStream in, RandomAccessFile keepOpen) throws IOException {
        int maxLine = limits.transferBytes() / 3 * 4 + 64 * 1024;
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] buffer = new byte[CHUNK];
        try (keepOpen) {
            int n;
            while ((n = in.read(buffer)) > 0 && state != State.DEAD) {
                int start = 0;
                for (int i = 0; i < n; i++) {
                    if (buffer[i] == '\n') {
                        line.write(buffer, start, i - start);
                        onControl(line.toByteArray());
                        line.reset();
                        start = i + 1;
                    }
                }
                line.write(buffer, start, n - start);
                if (line.size() > maxLine) {
                    violation("control message longer than " + maxLine + " bytes");
                    return;
                }
            }
        }
    }

    private void onControl(byte[] line) {
        JsonNode message;
        try {
            message = JSON.readTree(line);
        } catch (IOException e) {
            violation("malformed control message");
            return;
        }
        if (message == null || !message.isObject()) {
            violation("control message is not an object");
            return;
        }
        if (message.path("ready").asBoolean(false)) {
            launcher.cleanupFifo(id); // both ends are open now: nothing needs to stay on disk
            state = State.IDLE;
            findRunnerPid();
            ready.complete(message);
            return;
        }
        CompletableFuture<JsonNode> waiting = pendingAnswers.remove(message.path("id").asLong(-1));
        if (waiting == null) {
            violation("answer to no request");
            return;
        }
        waiting.complete(message);
    }

    /** Anything off-protocol means the runner was tampered with: the session ends. */
    private void violation(String what) {
        LOG.infof("sandbox %s broke the runner protocol (%s); destroying it", id, what);
        kill(null);
    }

    private CompletableFuture<JsonNode> request(ObjectNode message) {
        long requestId = requestIds.incrementAndGet();
        message.put("id", requestId);
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        pendingAnswers.put(requestId, answer);
        try {
            byte[] bytes = JSON.writeValueAsBytes(message);
            synchronized (requests) {
                requests.write(bytes);
                requests.write('\n');
                requests.flush();
            }
        } catch (IOException e) {
            pendingAnswers.remove(requestId);
            answer.completeExceptionally(new IOException("the sandbox is gone", e));
        }
        return answer;
    }

    /**
     * A file operation ({@code put|get|list|usage|delete}); the answer as the runner sent it. What
     * the session holds is the user's (a FIFO, a runner its code tampered with): past
     * {@code deadline} the sandbox is destroyed and the answer fails with {@link FileOperationTimeout}.
     */
    CompletableFuture<JsonNode> fileOperation(ObjectNode message, Duration deadline) {
        if (!alive()) {
            return CompletableFuture.failedFuture(new IOException("the sandbox is gone"));
        }
        // A runner blocked writing to a full output pipe (Node writes to pipes synchronously) could
        // not answer: while the operation runs, output is read again (and dropped).
        stdout.drain(true);
        stderr.drain(true);
        CompletableFuture<JsonNode> answer = request(message);
        ScheduledFuture<?> timer = timers.schedule(() -> {
            if (answer.isDone()) {
                return;
            }
            LOG.infof("sandbox %s: a file operation took longer than %s; destroying it", id, deadline);
            // Dead before the answer fails: the session's next operation, which the failure
            // releases at once, must take a new sandbox rather than this dying one.
            state = State.DEAD;
            answer.completeExceptionally(new FileOperationTimeout(deadline));
            kill(null);
        }, deadline.toMillis(), TimeUnit.MILLISECONDS);
        answer.whenComplete((done, failure) -> {
            timer.cancel(false);
            stdout.drain(false);
            stderr.drain(false);
        });
        return answer;
    }

    /** A file operation that did not finish by its deadline; the sandbox is destroyed. */
    static final class FileOperationTimeout extends IOException {
        FileOperationTimeout(Duration deadline) {
            super("the file operation did not finish within " + deadline.toSeconds() + " s; the session was ended");
        }
    }

    // ---- executions --------------------------------------------------------------------------------

    /**
     * Runs code; the caller guarantees one execution at a time. Output goes to {@code sink} as it
     * arrives; the returned future completes with the result once the code ended and every byte it
     * wrote before ending has been delivered.
     */
    CompletableFuture<ExecutionResult> execute(String code, int timeoutSeconds, Consumer<ExecutionUpdate> sink) {
        if (!alive()) {
            return CompletableFuture.failedFuture(new IOException("the sandbox is gone"));
        }
        byte[] marker = new byte[18];
        RANDOM.nextBytes(marker);
        String markerText = "\u0000SSM" + HexFormat.of().formatHex(marker) + "\u0000";
        Run run = new Run(markerText.getBytes(StandardCharsets.US_ASCII), sink);
        run.oomKillsAtStart = oomKills();
        state = State.BUSY;
        current = run;
        stdout.begin(run);
        stderr.begin(run);
        // The timers exist before the request is sent, so a finish (however fast) always cancels them.
        run.wallTimer = timers.schedule(() -> limit(run, LimitHit.wall), timeoutSeconds, TimeUnit.SECONDS);
        run.cpuWatch = timers.scheduleAtFixedRate(() -> watchCpu(run), CPU_WATCH_MS, CPU_WATCH_MS, TimeUnit.MILLISECONDS);
        if (run.result.isDone()) { // the sandbox died in between
            run.wallTimer.cancel(false);
            run.cpuWatch.cancel(false);
        }
        ObjectNode message = JSON.createObjectNode().put("op", "exec").put("code", code).put("marker", markerText)
                .put("cpuSeconds", limits.cpuSeconds()).put("outputBytes", limits.outputBytes());
        request(message).whenComplete((answer, failure) -> {
            if (answer != null) {
                run.answer(answer);
            }
        });
        return run.result;
    }

    /**
     * The CPU limit, checked every {@value #CPU_WATCH_MS} ms. Short executions (nearly all) end
     * before the first check and never read {@code /proc}; the first check takes the baseline as if
     * the code had used the CPU all along since it started, so the limit may fire up to one
     * interval early, never late.
     */
    private void watchCpu(Run run) {
        long now = cpuTicks();
        if (run.cpuAtStart < 0) {
            run.cpuAtStart = now - CPU_WATCH_MS / 10;
        } else if (now - run.cpuAtStart > limits.cpuSeconds() * 100L) {
            limit(run, LimitHit.cpu);
        }
    }

    /** A limit fired: interrupt the code (the session may survive), then kill the sandbox if it won't stop. */
    private void limit(Run run, LimitHit limit) {
        if (run.result.isDone() || run.limit != null) {
            return;
        }
        run.limit = limit;
        request(JSON.createObjectNode().put("op", "interrupt"));
        timers.schedule(() -> {
            if (!run.result.isDone()) {
                kill(limit);
            }
        }, interruptGrace.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** OOM kills in the sandbox's memory cgroup so far; 0 without one. */
    private long oomKills() {
        Cgroups.OomKillCount count = oomKillCount;
        if (count == null) {
            count = launcher.cgroup(id).map(Cgroups.OomKillCount::new).orElse(null);
            if (count == null) {
                return 0;
            }
            oomKillCount = count;
        }
        return count.read();
    }

    /** CPU time of the runner process in clock ticks (1/100 s), all threads. */
    /** The runner's own CPU time (user + system, 100 Hz ticks) at the last CPU check. */
    private volatile long runnerOwnTicks;

    private long cpuTicks() {
        if (runnerPid <= 0) {
            return 0;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + runnerPid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long own = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            runnerOwnTicks = own;
            return own + Long.parseLong(fields[13]) + Long.parseLong(fields[14]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * True when a SIGKILL nobody here sent is the kernel enforcing the hard {@code RLIMIT_CPU}
     * ({@code process-cpu-seconds}): the runner's own CPU time, as last sampled, was within two
     * samples of it.
     */
    private boolean reachedProcessCpuLimit(int exitCode) {
        return exitCode == 128 + 9
                && runnerOwnTicks >= limits.processCpuSeconds() * 100L - 2 * CPU_WATCH_MS / 10;
    }

    /** bwrap → its pid-namespace init → the runner: the runner is the grandchild of our process. */
    private void findRunnerPid() {
        ProcessHandle.of(process.pid())
                .flatMap(bwrap -> bwrap.children().findFirst())
                .flatMap(init -> init.children().findFirst())
                .ifPresent(runner -> runnerPid = runner.pid());
    }

    /** Kills every process of the sandbox: bwrap dies, its pid-namespace init follows, the kernel kills the rest. */
    void kill(LimitHit reason) {
        if (killedFor == null) {
            killedFor = reason;
        }
        state = State.DEAD;
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    private void exited() {
        state = State.DEAD;
        if (oomKillCount != null) {
            oomKillCount.close();
        }
        stdout.close();
        stderr.close();
        ready.completeExceptionally(new IOException("the sandbox exited"));
        pendingAnswers.values().forEach(f -> f.completeExceptionally(new IOException("the sandbox exited")));
        pendingAnswers.clear();
        Run run = current;
        if (run != null && !run.result.isDone()) {
            LimitHit limit = run.limit != null ? run.limit : killedFor;
            int code = process.exitValue();
            if (limit == null) {
                limit = switch (code) {
                    case 128 + 24 -> LimitHit.cpu; // SIGXCPU
                    case 128 + 25 -> LimitHit.disk; // SIGXFSZ
                    default -> null;
                };
            }
            if (limit == null && launcher.cgroup(id).map(Cgroups::oomKilled).orElse(false)) {
                limit = LimitHit.memory; // the kernel's OOM killer acted in the sandbox's cgroup
            }
            if (limit == null && reachedProcessCpuLimit(code)) {
                limit = LimitHit.cpu; // the hard CPU limit of the session's runner
            }
            LimitHit known = limit;
            // V8's out-of-heap message (then SIGABRT: 134) may still be in the pipe: decide once
            // stderr has ended, which follows the death of the last process in the sandbox.
            stderr.ended.completeOnTimeout(null, 1, TimeUnit.SECONDS).thenRun(() -> {
                LimitHit hit = run.limit != null ? run.limit : known;
                if (hit == null && code == 128 + 6 && run.heapExhausted) {
                    hit = LimitHit.memory;
                }
                run.limit = hit;
                run.sandboxDied(code);
            });
        }
        launcher.cleanup(id);
        launcher.releaseUid(uid);
        wakeControlReader(); // last: it is the one step that could wait (on a full pipe its reader is draining)
    }

    /**
     * The control reader would otherwise wait forever (we are a writer of the FIFO ourselves): one
     * byte from our side wakes it, it sees the sandbox dead and closes the FIFO.
     */
    private void wakeControlReader() {
        RandomAccessFile fifo = control;
        if (fifo != null) {
            try {
                fifo.write('\n');
            } catch (IOException e) {
                // already closed by the reader
            }
        }
    }

    String diagnostics() {
        return "exit " + (process.isAlive() ? "n/a" : process.exitValue());
    }

    /** One execution in flight: collects output up to the limit and decides when it is complete. */
    private final class Run {
        final byte[] marker;
        final Consumer<ExecutionUpdate> sink;
        final CompletableFuture<ExecutionResult> result = new CompletableFuture<>();
        final Instant startedAt = Instant.now();
        final long startNanos = System.nanoTime();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        volatile LimitHit limit;
        /** CPU ticks at the first check, less one interval; -1 until then. Only the watch uses it. */
        long cpuAtStart = -1;
        /** The memory cgroup's OOM kills before the code ran: a kill of any process during it names the limit. */
        long oomKillsAtStart;
        /** Node said its heap is exhausted (it aborts next). */
        volatile boolean heapExhausted;
        boolean truncated;
        boolean stdoutDone;
        boolean stderrDone;
        JsonNode answer;
        volatile ScheduledFuture<?> wallTimer;
        volatile ScheduledFuture<?> cpuWatch;

        Run(byte[] marker, Consumer<ExecutionUpdate> sink) {
            this.marker = marker;
            this.sink = sink;
        }

        synchronized void output(ExecutionUpdate.Stream stream, byte[] bytes, int offset, int length) {
            if (result.isDone()) {
                return;
            }
            if (stream == ExecutionUpdate.Stream.STDERR && !heapExhausted
                    && new String(bytes, offset, length, StandardCharsets.ISO_8859_1).contains(HEAP_EXHAUSTED)) {
                heapExhausted = true; // seen even past the output limit
            }
            int room = limits.outputBytes() - out.size() - err.size();
            int kept = Math.max(0, Math.min(room, length));
            if (kept > 0) {
                (stream == ExecutionUpdate.Stream.STDOUT ? out : err).write(bytes, offset, kept);
                byte[] chunk = new byte[kept];
                System.arraycopy(bytes, offset, chunk, 0, kept);
                sink.accept(new ExecutionUpdate.Output(stream, chunk));
            }
            if (kept < length && !truncated) {
                truncated = true;
                limit(this, LimitHit.output);
            }
        }

        synchronized void streamEnded(ExecutionUpdate.Stream stream) {
            if (stream == ExecutionUpdate.Stream.STDOUT) {
                stdoutDone = true;
            } else {
                stderrDone = true;
            }
            maybeComplete();
        }

        synchronized void answer(JsonNode answer) {
            this.answer = answer;
            maybeComplete();
        }

        private void maybeComplete() {
            if (answer != null && stdoutDone && stderrDone && !result.isDone()) {
                String status = answer.path("status").asText("Failed");
                String errorType = answer.path("error").path("type").asText(null);
                String errorMessage = answer.path("error").path("message").asText(null);
                LimitHit hit = limit != null ? limit : LimitClassifier.fromError(errorType, errorMessage);
                if (hit == null && oomKills() > oomKillsAtStart) {
                    hit = LimitHit.memory; // the code survived, but the OOM killer took one of its processes
                }
                if (hit == null) {
                    hit = LimitClassifier.fromOutput(decode(err)); // a child that failed to fork or allocate
                }
                RichOutput rich = richOutput(answer);
                if (rich.truncated && hit == null) {
                    hit = LimitHit.output;
                }
                Status finalStatus = limit == LimitHit.wall ? Status.TimedOut
                        : "Succeeded".equals(status) && hit == null ? Status.Succeeded : Status.Failed;
                finish(finalStatus, answer.get("result"), errorType, errorMessage, hit, false, rich);
            }
        }

        /**
         * The answer's text form and rich outputs, under the output cap that stdout and stderr have
         * already used part of: the runner caps its own outputs, but it shares the user's trust, so
         * the cap is applied again here. Anything malformed is dropped.
         */
        private RichOutput richOutput(JsonNode answer) {
            long room = (long) limits.outputBytes() - out.size() - err.size();
            boolean cut = answer.path("outputsTruncated").asBoolean(false);
            String text = answer.path("text").isTextual() ? answer.get("text").textValue() : null;
            if (text != null && text.length() > Math.max(0, room)) {
                text = text.substring(0, (int) Math.max(0, room));
                cut = true;
            }
            List<Output> kept = new ArrayList<>();
            boolean full = false;
            for (JsonNode item : answer.path("outputs")) {
                if (!item.path("type").isTextual() || !item.has("data") || item.get("type").textValue().length() > 255) {
                    continue;
                }
                Output output = Output.of(item.get("type").textValue(), item.get("data"));
                if (full || output.size() > room) {
                    full = cut = true; // what follows a dropped output is dropped too: the order stays true
                    continue;
                }
                room -= output.size();
                kept.add(output);
            }
            if (cut && !truncated) {
                truncated = true;
            }
            return new RichOutput(text, kept, cut);
        }

        synchronized void sandboxDied(int exitCode) {
            Status status = limit == LimitHit.wall ? Status.TimedOut : Status.Failed;
            String message = limit != null ? "the " + limit + " limit was hit; the session's sandbox was destroyed"
                    : "the sandbox exited (code " + exitCode + "); the session's state is lost";
            finish(status, null, "SandboxExited", message, limit, true, new RichOutput(null, List.of(), false));
        }

        private void finish(Status status, JsonNode value, String errorType, String errorMessage, LimitHit hit,
                boolean ended, RichOutput rich) {
            if (wallTimer != null) {
                wallTimer.cancel(false);
            }
            if (cpuWatch != null) {
                cpuWatch.cancel(false);
            }
            Instant completedAt = Instant.now();
            ExecutionResult r = new ExecutionResult(status, decode(out), decode(err),
                    value == null || value.isNull() ? null : value, status == Status.Succeeded ? null : errorType,
                    status == Status.Succeeded ? null : errorMessage, truncated, hit, ended, startedAt, completedAt,
                    (System.nanoTime() - startNanos) / 1_000_000, rich.text, rich.outputs);
            if (current == this) {
                current = null;
                if (state == State.BUSY) {
                    state = State.IDLE;
                }
            }
            result.complete(r);
        }
    }

    private record RichOutput(String text, List<Output> outputs, boolean truncated) {
    }

    private static String decode(ByteArrayOutputStream bytes) {
        return bytes.toString(StandardCharsets.UTF_8); // malformed input becomes U+FFFD
    }

    /**
     * Moves one output stream's bytes to the execution in flight, up to its marker. Between
     * executions the pump waits in its read, so the next execution's output (at least its marker)
     * costs one wake-up, not a notify and then a read. Output that arrives while no execution (or
     * file operation) runs is a background process of an earlier one: it is dropped, and the pump
     * then stops reading until the next execution begins, so a process that keeps writing fills the
     * pipe and blocks, instead of costing the service a read per chunk. What it left in the pipe is
     * dropped when the next execution begins.
     */
    private final class OutputRouter {
        /** Most bytes dropped at an execution's start: a pipe holds at most 1 MiB (pipe-max-size). */
        private static final int MAX_STALE = 1024 * 1024 + CHUNK;
        private final ExecutionUpdate.Stream stream;
        private final InputStream in;
        private Run run;
        private byte[] held = new byte[0];
        /** File operations in flight: output is read (and dropped) meanwhile. */
        private int draining;
        /** Output came with no execution to take it: the pump stops reading until one begins. */
        private boolean idleOutput;
        /** True while the pump waits for work (and so does not touch the stream). */
        private boolean parked;
        private boolean closed;
        /** Completed when the stream reached its end (the last process holding it died). */
        final CompletableFuture<Void> ended = new CompletableFuture<>();

        OutputRouter(ExecutionUpdate.Stream stream, InputStream in) {
            this.stream = stream;
            this.in = in;
        }

        synchronized void begin(Run run) {
            if (parked) {
                dropStale();
            }
            this.run = run;
            idleOutput = false;
            if (parked) {
                notifyAll();
            }
        }

        synchronized void drain(boolean on) {
            draining += on ? 1 : -1;
            notifyAll();
        }

        /** The sandbox is gone: read to the end so the pump ends. */
        synchronized void close() {
            closed = true;
            notifyAll();
        }

        /** What background processes wrote since the last read; it was there before the request went out. */
        private void dropStale() {
            try {
                if (in.available() <= 0) {
                    return; // as almost always: no buffer needed
                }
                byte[] buffer = new byte[CHUNK];
                int dropped = 0;
                int available;
                while (dropped < MAX_STALE && (available = in.available()) > 0) {
                    int n = in.read(buffer, 0, Math.min(available, buffer.length));
                    if (n <= 0) {
                        return;
                    }
                    dropped += n;
                    outputRead.increment(n);
                }
            } catch (IOException e) {
                // the stream is gone; the pump sees its end
            }
        }

        private synchronized boolean awaitWork() throws InterruptedException {
            parked = true;
            try {
                while (idleOutput && run == null && draining == 0 && !closed) {
                    wait();
                }
            } finally {
                parked = false;
            }
            return true;
        }

        void pump() throws IOException, InterruptedException {
            try {
                byte[] buffer = new byte[CHUNK];
                int n;
                while (awaitWork() && (n = in.read(buffer)) > 0) {
                    outputRead.increment(n);
                    accept(buffer, n);
                }
                synchronized (this) {
                    if (run != null) {
                        flushHeld(run);
                        run.streamEnded(stream);
                        run = null;
                    }
                }
            } finally {
                ended.complete(null);
            }
        }

        private synchronized void accept(byte[] buffer, int n) {
            if (run == null) {
                idleOutput = draining == 0; // dropped; read no more of it until work begins
                return;
            }
            byte[] data = new byte[held.length + n];
            System.arraycopy(held, 0, data, 0, held.length);
            System.arraycopy(buffer, 0, data, held.length, n);
            held = new byte[0];
            byte[] marker = run.marker;
            int at = indexOf(data, marker);
            if (at >= 0) {
                run.output(stream, data, 0, at);
                Run ended = run;
                run = null;
                ended.streamEnded(stream);
                return;
            }
            // Keep back a tail that could be the start of the marker split across reads.
            int keep = partialMarkerSuffix(data, marker);
            run.output(stream, data, 0, data.length - keep);
            if (keep > 0) {
                held = java.util.Arrays.copyOfRange(data, data.length - keep, data.length);
            }
        }

        private void flushHeld(Run r) {
            if (held.length > 0) {
                r.output(stream, held, 0, held.length);
                held = new byte[0];
            }
        }
    }

    static int indexOf(byte[] data, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= data.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Length of the longest suffix of {@code data} that is a proper prefix of {@code marker}. */
    static int partialMarkerSuffix(byte[] data, byte[] marker) {
        for (int len = Math.min(marker.length - 1, data.length); len > 0; len--) {
            boolean match = true;
            for (int j = 0; j < len; j++) {
                if (data[data.length - len + j] != marker[j]) {
                    match = false;
                    break;
                }
            }
            if (match) {
                return len;
            }
        }
        return 0;
    }
}
