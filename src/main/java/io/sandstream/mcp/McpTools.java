package io.sandstream.mcp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.json.jackson2.JacksonMcpJsonMapper;
import io.modelcontextprotocol.json.schema.jackson2.DefaultJsonSchemaValidator;
import io.modelcontextprotocol.server.McpAsyncServer;
import io.modelcontextprotocol.server.McpAsyncServerExchange;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.McpServerFeatures;
import io.modelcontextprotocol.spec.McpSchema;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.ingress.ApiSubmissions;
import io.sandstream.ingress.IngressService;
import io.sandstream.model.Language;
import io.sandstream.poolapi.PoolApiException;
import io.sandstream.poolapi.PoolApiGuard;
import io.sandstream.poolapi.ResourceResponses;
import io.sandstream.poolapi.RuntimeMetadata;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.results.ResultBus;
import io.sandstream.routing.RoutingRules;
import io.sandstream.security.RateLimits;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.QuotaExceededException;
import io.sandstream.tenancy.TenantPrefixes;
import io.sandstream.validation.ExecuteRequestValidator;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import reactor.core.publisher.Mono;

/**
 * The MCP server's tools, built on the official MCP Java SDK over {@link McpHttpTransport}. Each
 * acts under the caller's API key, exactly as the rest of the service does: {@code run_code} sends
 * the code down the one path of {@code POST /executions} ({@link ApiSubmissions}: journalled,
 * routed by priority, stored, visible on {@code /executions} and the SSE streams), and the file and
 * session tools reach the same session a run with that {@code sessionId} uses (the tenant's, in the
 * pool the dispatcher picks). Failures are tool results with {@code isError: true}.
 * <p>
 * Built by the first MCP {@code initialize} ({@link McpHttpTransport}), not with the service: the
 * SDK's server and its JSON schema validator cost a few percent of a start that most replicas
 * never need them in.
 */
@Singleton
public class McpTools {

    static final String SOURCE = "/mcp";
    private static final String EXECUTE_TYPE = "io.sandstream.code.execute";

    private final McpHttpTransport transport;
    private final McpJsonMapper json;
    private final ApiSubmissions submissions;
    private final ResultBus bus;
    private final RateLimits limits;
    private final SessionPools pools;
    private final RoutingRules rules;
    private final TenantPrefixes tenants;
    private final RuntimeMetadata metadata;
    private final SandstreamConfig config;
    private final MeterRegistry registry;
    private final Tracer tracer;
    private McpAsyncServer server;

    public McpTools(McpHttpTransport transport, McpJsonMapper json, ApiSubmissions submissions, ResultBus bus,
            RateLimits limits, SessionPools pools, RoutingRules rules, TenantPrefixes tenants, RuntimeMetadata metadata,
            SandstreamConfig config, MeterRegistry registry, OpenTelemetry openTelemetry) {
        this.transport = transport;
        this.json = json;
        this.submissions = submissions;
        this.bus = bus;
        this.limits = limits;
        this.pools = pools;
        this.rules = rules;
        this.tenants = tenants;
        this.metadata = metadata;
        this.config = config;
        this.registry = registry;
        this.tracer = openTelemetry.getTracer("io.sandstream.mcp");
    }

    /** The SDK's JSON, on a mapper of its own (the SDK's records need its settings, not the service's). */
    @Produces
    @Singleton
    static McpJsonMapper mcpJson() {
        return new JacksonMcpJsonMapper(new ObjectMapper());
    }

    @PostConstruct
    void start() {
        server = McpServer.async(transport).jsonMapper(json).serverInfo("sandstream", "1")
                .jsonSchemaValidator(new DefaultJsonSchemaValidator())
                .instructions("sandstream runs code in isolated, stateful sandboxes. Use run_code to execute code;"
                        + " pass the same sessionId to keep variables, imports and files between runs; files live in"
                        + " /mnt/data of a session.")
                .capabilities(McpSchema.ServerCapabilities.builder().tools(false).build())
                .tools(List.of(
                        tool("run_code", "Run code", runCodeDescription(), runCodeSchema(), this::runCode),
                        tool("upload_file", "Upload a file", "Writes a file (its bytes as base64) into /mnt/data of a"
                                + " session, where code run with the same sessionId can open it.", schema(Map.of(
                                        "sessionId", sessionIdProperty(), "name", fileNameProperty(),
                                        "contentBase64", Map.of("type", "string", "description", "The file's bytes, base64-encoded."),
                                        "language", languageProperty()), "sessionId", "name", "contentBase64"), this::uploadFile),
                        tool("download_file", "Download a file", "Reads a file from /mnt/data of a session (for example"
                                + " one the code wrote); answers its bytes as an embedded resource (base64), or an image"
                                + " for PNG/JPEG.", schema(Map.of("sessionId", sessionIdProperty(), "name", fileNameProperty(),
                                        "language", languageProperty()), "sessionId", "name"), this::downloadFile),
                        tool("list_files", "List files", "Lists the files in /mnt/data of a session: name, size in bytes,"
                                + " last modified.", schema(Map.of("sessionId", sessionIdProperty(), "language", languageProperty()),
                                        "sessionId"), this::listFiles),
                        tool("list_languages", "List languages and packages", "Lists the languages code can be run in"
                                + " (the values of run_code's 'language'); with 'language', also the packages that"
                                + " language's sandboxes have preinstalled (python: numpy, pandas, matplotlib, …).",
                                schema(Map.of("language", languageProperty())), this::listLanguages),
                        tool("end_session", "End a session", "Ends a session now: its sandbox, variables and files are"
                                + " gone. Sessions also end by themselves after a period unused.",
                                schema(Map.of("sessionId", sessionIdProperty(), "language", languageProperty()), "sessionId"),
                                this::endSession)))
                .build();
    }

    @PreDestroy
    void stop() {
        server.close();
    }

    // ---- the tools' schemas --------------------------------------------------------------------------

    private String runCodeDescription() {
        return "Runs code in an isolated sandbox and answers its stdout, stderr and the value of the last"
                + " expression; matplotlib figures come back as PNG images and HTML (pandas DataFrames) as embedded"
                + " resources. Without sessionId the run gets a fresh sandbox discarded afterwards; with one, variables,"
                + " imports and files in /mnt/data persist across runs with the same sessionId (and upload_file,"
                + " download_file, list_files reach the same session). Python has the data stack preinstalled"
                + " (list_languages with language 'python' lists it); there is no network access. A failing run answers"
                + " isError with the traceback. Long runs report their output as progress notifications.";
    }

    private Map<String, Object> runCodeSchema() {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("code", Map.of("type", "string", "description", "The source code to run (at most "
                + config.execution().maxCodeBytes() + " bytes of UTF-8)."));
        properties.put("language", languageProperty());
        properties.put("sessionId", sessionIdProperty());
        properties.put("timeoutSeconds", Map.of("type", "integer", "minimum", 1,
                "maximum", config.execution().maxTimeoutSeconds(), "description", "Longest the code may run, in seconds"
                        + " (default " + config.execution().defaultTimeoutSeconds() + ")."));
        properties.put("priority", Map.of("type", "string", "enum", List.of("high", "normal", "low"),
                "description", "Scheduling priority when the service is busy (default: by routing rules, else normal)."));
        return schema(properties, "code");
    }

    private Map<String, Object> languageProperty() {
        List<String> languages = languages();
        return Map.of("type", "string", "enum", languages, "description", "The language"
                + (languages.contains("python") ? " (default python)." : "."));
    }

    private static Map<String, Object> sessionIdProperty() {
        return Map.of("type", "string", "minLength", 4, "maxLength", 128, "pattern", "^[A-Za-z0-9|\\-&^%$#(){}\\[\\];<>]+$",
                "description", "A session name of your choice (4-128 letters, digits, -); reuse it to keep state.");
    }

    private static Map<String, Object> fileNameProperty() {
        return Map.of("type", "string", "description", "A plain file name in /mnt/data (no directories), e.g. data.csv.");
    }

    private static Map<String, Object> schema(Map<String, Object> properties, String... required) {
        Map<String, Object> schema = new LinkedHashMap<>();
        schema.put("type", "object");
        schema.put("properties", properties);
        schema.put("required", List.of(required));
        schema.put("additionalProperties", false);
        return schema;
    }

    private List<String> languages() {
        return pools.all().values().stream().map(p -> p.language().wireName()).distinct().sorted().toList();
    }

    // ---- the tools ---------------------------------------------------------------------------------------

    /** What a tool does with the caller's scope and arguments. */
    private interface Handler {
        Mono<McpSchema.CallToolResult> call(Caller caller, Map<String, Object> arguments);
    }

    /** The caller: its key's scope, its {@code Authorization} header, and the exchange (for progress). */
    private record Caller(KeyScope scope, String authorization, McpAsyncServerExchange exchange, McpSchema.CallToolRequest request) {
    }

    /**
     * A tool whose every call is counted and timed by tool and outcome, traced as
     * {@code mcp.tool <name>}, and turns a refusal ({@link ProblemException}, pool and file errors)
     * into an {@code isError} result.
     */
    private McpServerFeatures.AsyncToolSpecification tool(String name, String title, String description,
            Map<String, Object> inputSchema, Handler handler) {
        McpSchema.Tool tool = McpSchema.Tool.builder().name(name).title(title).description(description)
                .inputSchema(inputSchema).build();
        Timer timer = Timer.builder("sandstream.mcp.tool.duration").tag("tool", name)
                .description("MCP tool calls, by tool").register(registry);
        BiFunction<McpAsyncServerExchange, McpSchema.CallToolRequest, Mono<McpSchema.CallToolResult>> call = (exchange, request) -> {
            Object scope = exchange.transportContext().get(McpHttpTransport.SCOPE);
            if (!(scope instanceof KeyScope keyScope)) {
                return Mono.just(RunContent.error("No API key on this request."));
            }
            Span span = tracer.spanBuilder("mcp.tool " + name).setSpanKind(SpanKind.SERVER)
                    .setAttribute("mcp.tool.name", name).setAttribute("mcp.session.id", String.valueOf(exchange.sessionId()))
                    .startSpan();
            long started = System.nanoTime();
            Caller caller = new Caller(keyScope, (String) exchange.transportContext().get(McpHttpTransport.AUTHORIZATION),
                    exchange, request);
            Map<String, Object> arguments = request.arguments() == null ? Map.of() : request.arguments();
            Mono<McpSchema.CallToolResult> result;
            try (Scope ignored = span.makeCurrent()) {
                result = handler.call(caller, arguments);
            } catch (RuntimeException e) {
                result = Mono.error(e);
            }
            return result.onErrorResume(failure -> Mono.just(RunContent.error(message(failure)))).doOnNext(answer -> {
                String outcome = Boolean.TRUE.equals(answer.isError()) ? "error" : "ok";
                Counter.builder("sandstream.mcp.tool.calls").tag("tool", name).tag("outcome", outcome)
                        .description("MCP tool calls, by tool and outcome").register(registry).increment();
                span.setAttribute("sandstream.outcome", outcome);
                if (!"ok".equals(outcome)) {
                    span.setStatus(StatusCode.ERROR);
                }
            }).doFinally(signal -> {
                timer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                span.end();
            });
        };
        return McpServerFeatures.AsyncToolSpecification.builder().tool(tool).callHandler(call).build();
    }

    private Mono<McpSchema.CallToolResult> runCode(Caller caller, Map<String, Object> arguments) {
        limits.admitSubmission(caller.authorization());
        ObjectNode fields = json(arguments);
        ApiSubmissions.Submission submission = submissions.prepare(fields, caller.scope(), SOURCE);
        String executionId = submission.executionId();
        // The result waiter (nextAfter) and the progress subscription come before the work is journalled,
        // so neither a fast result nor early output is missed.
        Cancellable progress = progress(caller, executionId);
        Uni<McpSchema.CallToolResult> answer = bus.nextAfter(
                        Uni.createFrom().deferred(() -> submissions.ingest(submission, caller.scope(), IngressService.Endpoint.MCP)),
                        executionId, config.mcp().resultWait())
                .map(result -> result == null
                        ? McpSchema.CallToolResult.builder().addTextContent("The run " + executionId + " has not finished within "
                                + config.mcp().resultWait().toSeconds() + " s; its result will be at GET /executions/" + executionId
                                + ".").build()
                        : RunContent.of(result.document()))
                .onTermination().invoke(progress::cancel);
        return mono(answer);
    }

    /** Live output as progress notifications, when the caller asked for progress. */
    private Cancellable progress(Caller caller, String executionId) {
        Object token = caller.request().progressToken();
        if (token == null) {
            return () -> {
            };
        }
        double[] count = {0};
        return bus.outputs().filter(live -> live.executionId().equals(executionId) && live.output() != null)
                .subscribe().with(live -> {
                    String chunk = new String(live.output().bytes(), StandardCharsets.UTF_8);
                    caller.exchange().progressNotification(new McpSchema.ProgressNotification(token, ++count[0], null,
                            live.output().stream().name().toLowerCase() + ": " + chunk)).subscribe();
                });
    }

    private Mono<McpSchema.CallToolResult> uploadFile(Caller caller, Map<String, Object> arguments) {
        Session session = session(caller, arguments);
        String name = PoolApiGuard.fileName(text(arguments, "name"));
        byte[] content;
        try {
            content = Base64.getMimeDecoder().decode(text(arguments, "contentBase64"));
        } catch (IllegalArgumentException e) {
            return Mono.just(RunContent.error("contentBase64 is not valid base64."));
        }
        return mono(session.pool().uploadFile(session.key(), name, content).map(file -> McpSchema.CallToolResult.builder()
                .addTextContent("Wrote /mnt/data/" + file.name() + " (" + file.size() + " bytes) in session "
                        + session.key().identifier() + ".").build()));
    }

    private Mono<McpSchema.CallToolResult> downloadFile(Caller caller, Map<String, Object> arguments) {
        Session session = session(caller, arguments);
        String name = PoolApiGuard.fileName(text(arguments, "name"));
        return mono(session.pool().downloadFile(session.key(), name).map(bytes -> {
            String mime = ResourceResponses.contentType(name);
            String data = Base64.getEncoder().encodeToString(bytes);
            McpSchema.Content content = mime.equals("image/png") || mime.equals("image/jpeg")
                    ? new McpSchema.ImageContent(null, data, mime)
                    : new McpSchema.EmbeddedResource(null, new McpSchema.BlobResourceContents(
                            "sandstream://sessions/" + session.key().identifier() + "/files/" + name, mime, data));
            return McpSchema.CallToolResult.builder().addContent(content).build();
        }));
    }

    private Mono<McpSchema.CallToolResult> listFiles(Caller caller, Map<String, Object> arguments) {
        Session session = session(caller, arguments);
        return mono(session.pool().listFiles(session.key()).map(files -> {
            StringBuilder text = new StringBuilder();
            for (SessionFile file : files.files()) {
                text.append(file.name()).append('\t').append(file.size()).append('\t').append(file.lastModified()).append('\n');
            }
            if (files.files().isEmpty()) {
                text.append("(no files in /mnt/data)");
            }
            if (files.truncated()) {
                text.append("(the listing stops here; there are more files)");
            }
            return McpSchema.CallToolResult.builder().addTextContent(text.toString()).build();
        }));
    }

    private Mono<McpSchema.CallToolResult> listLanguages(Caller caller, Map<String, Object> arguments) {
        limitPoolCall(caller);
        Object asked = arguments.get("language");
        if (asked == null) {
            return Mono.just(McpSchema.CallToolResult.builder().addTextContent("Languages: " + String.join(", ", languages())
                    + ". Ask with 'language' for its preinstalled packages.").build());
        }
        SessionPool pool = pool(caller, String.valueOf(asked));
        return mono(metadata.of(pool).map(meta -> {
            List<String> lines = new ArrayList<>();
            meta.runtimes().forEach(runtime -> lines.add("runtime " + runtime.name() + " " + runtime.version()));
            meta.preInstalledPackages().forEach(pkg -> lines.add(pkg.name() + " " + pkg.version()));
            if (lines.isEmpty()) {
                lines.add(pool.language().wireName() + " runs here; its packages are not listed (no probe for this language).");
            }
            return McpSchema.CallToolResult.builder().addTextContent(String.join("\n", lines)).build();
        }));
    }

    private Mono<McpSchema.CallToolResult> endSession(Caller caller, Map<String, Object> arguments) {
        Session session = session(caller, arguments);
        return mono(session.pool().deleteSession(session.key()).map(deleted -> deleted
                ? McpSchema.CallToolResult.builder().addTextContent("Session " + session.key().identifier() + " ended.").build()
                : RunContent.error("There is no session '" + session.key().identifier() + "' (it may have ended already).")));
    }

    // ---- sessions, pools and errors -------------------------------------------------------------------

    private record Session(SessionPool pool, SessionKey key) {
    }

    /**
     * The session a run with this {@code sessionId} uses: the caller's tenant (as a run without a
     * subject acts), in the pool the dispatcher picks for the language. The pool API's rate limit applies.
     */
    private Session session(Caller caller, Map<String, Object> arguments) {
        limitPoolCall(caller);
        String identifier = text(arguments, "sessionId");
        if (!ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
            throw ProblemException.badRequest("sessionId must be 4 to 128 letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >.",
                    List.of(new Problem.FieldError("/sessionId", "invalid")));
        }
        Object language = arguments.get("language");
        SessionPool pool = pool(caller, language == null ? defaultLanguage() : String.valueOf(language));
        String subject = caller.scope().defaultSubject();
        return new Session(pool, new SessionKey(caller.scope().tenantFor(subject, tenants), identifier));
    }

    private SessionPool pool(Caller caller, String language) {
        Language parsed = Language.parse(language).orElseThrow(() -> ProblemException.badRequest(
                "Unknown language '" + language + "'; use one of " + String.join(", ", languages()) + ".", List.of()));
        return rules.poolFor(EXECUTE_TYPE, caller.scope().defaultSubject(), parsed, pools)
                .orElseThrow(() -> ProblemException.badRequest("No pool runs '" + language + "'; use one of "
                        + String.join(", ", languages()) + ".", List.of()));
    }

    private String defaultLanguage() {
        List<String> languages = languages();
        return languages.contains("python") || languages.isEmpty() ? "python" : languages.get(0);
    }

    private void limitPoolCall(Caller caller) {
        limits.takePoolApiCall(caller.authorization()).ifPresent(retryAfter -> {
            throw ProblemException.tooManyRequests("This API key has made more requests than its rate limit allows", (int) retryAfter);
        });
    }

    private ObjectNode json(Map<String, Object> arguments) {
        return json.convertValue(arguments, ObjectNode.class);
    }

    private static String text(Map<String, Object> arguments, String name) {
        Object value = arguments.get(name);
        if (!(value instanceof String text)) {
            throw ProblemException.badRequest("'" + name + "' is required (a string).", List.of(new Problem.FieldError("/" + name, "required")));
        }
        return text;
    }

    /** What a failed call tells the model: the problem's detail and field errors, or the pool's message. */
    private static String message(Throwable failure) {
        if (failure instanceof ProblemException problem) {
            StringBuilder text = new StringBuilder(problem.problem().detail() == null ? problem.problem().title() : problem.problem().detail());
            if (problem.problem().errors() != null) {
                problem.problem().errors().forEach(e -> text.append("\n").append(e.pointer()).append(": ").append(e.detail()));
            }
            String retry = problem.headers().get("Retry-After");
            return retry == null ? text.toString() : text + " (retry after " + retry + " s)";
        }
        if (failure instanceof PoolApiException || failure instanceof SessionFileException || failure instanceof PoolFullException
                || failure instanceof QuotaExceededException) {
            return failure.getMessage();
        }
        return "The call failed: " + failure.getClass().getSimpleName();
    }

    private static <T> Mono<T> mono(Uni<T> uni) {
        return Mono.fromCompletionStage(uni::subscribeAsCompletionStage);
    }
}
