package io.sandstream.mcp;

import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.modelcontextprotocol.common.McpTransportContext;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.json.TypeRef;
import io.modelcontextprotocol.spec.HttpHeaders;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpStreamableServerSession;
import io.modelcontextprotocol.spec.McpStreamableServerTransportProvider;
import io.modelcontextprotocol.spec.ProtocolVersions;
import io.quarkus.runtime.configuration.MemorySize;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.Problem;
import io.sandstream.security.ApiKeys;
import io.sandstream.tenancy.KeyScope;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import reactor.core.publisher.Mono;

import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * MCP's Streamable HTTP transport at {@code /mcp} on the Vert.x router, for the official MCP Java
 * SDK's server. The SDK ships this transport for servlets and Spring only, and both block a thread
 * per open stream; here each SSE stream is a Vert.x response written as the SDK's session emits, so
 * a long run holds no thread. The SDK does the protocol (version negotiation, sessions' state, tool
 * calls, progress); this class does HTTP: {@code POST} (an {@code initialize} answered as JSON with
 * a new {@code Mcp-Session-Id}, other requests as an SSE stream, notifications and responses
 * {@code 202}), the {@code GET} stream, {@code DELETE}, and resumption with {@code Last-Event-ID}
 * ({@link McpStream}).
 * <p>
 * Every request needs an API key ({@code edge/CredentialGuard} refuses one without before its body
 * is read); an MCP session belongs to the key that initialized it, and is not found with another.
 */
@ApplicationScoped
public class McpHttpTransport implements McpStreamableServerTransportProvider {

    private static final Logger LOG = Logger.getLogger(McpHttpTransport.class);
    static final String PATH = "/mcp";
    /** Where the tools find the caller's key in the SDK's transport context. */
    static final String SCOPE = "sandstream.scope";
    static final String AUTHORIZATION = "sandstream.authorization";
    private static final List<String> VERSIONS = List.of(ProtocolVersions.MCP_2024_11_05, ProtocolVersions.MCP_2025_03_26,
            ProtocolVersions.MCP_2025_06_18, ProtocolVersions.MCP_2025_11_25);
    /** Streams of one session kept for resumption; the oldest is forgotten first. */
    private static final int STREAMS_KEPT = 16;

    /** One MCP session: the SDK's state, the key scope that owns it, and its streams. */
    private static final class Held {
        final McpStreamableServerSession session;
        final KeyScope owner;
        final Map<String, McpStream> streams = new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, McpStream> eldest) {
                return size() > STREAMS_KEPT;
            }
        };
        volatile Instant lastUsed = Instant.now();

        Held(McpStreamableServerSession session, KeyScope owner) {
            this.session = session;
            this.owner = owner;
        }

        synchronized void add(McpStream stream) {
            streams.put(stream.id(), stream);
        }

        synchronized McpStream stream(String id) {
            return streams.get(id);
        }
    }

    private final ApiKeys keys;
    private final McpJsonMapper json;
    private final SandstreamConfig.Mcp config;
    private final long maxBody;
    private final Map<String, Held> sessions = new ConcurrentHashMap<>();
    private volatile McpStreamableServerSession.Factory factory;
    /** The tools and the SDK's server, built by the first {@code initialize}. */
    private final Instance<McpTools> tools;

    public McpHttpTransport(ApiKeys keys, McpJsonMapper json, SandstreamConfig config, MeterRegistry registry,
            @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10240K") MemorySize maxBody,
            Instance<McpTools> tools) {
        this.keys = keys;
        this.tools = tools;
        this.json = json;
        this.config = config.mcp();
        this.maxBody = maxBody.asLongValue();
        Gauge.builder("sandstream.mcp.sessions", sessions, Map::size).description("MCP sessions held").register(registry);
    }

    void routes(@Observes Router router, Vertx vertx) {
        router.route(PATH).order(-10).handler(BodyHandler.create(false).setBodyLimit(maxBody));
        router.route(PATH).order(-9).handler(this::handle);
        long sweep = Math.max(1000, config.sessionIdleTimeout().toMillis() / 4);
        vertx.setPeriodic(sweep, ignored -> expire());
    }

    @Override
    public void setSessionFactory(McpStreamableServerSession.Factory factory) {
        this.factory = factory;
    }

    @Override
    public List<String> protocolVersions() {
        return VERSIONS;
    }

    @Override
    public Mono<Void> notifyClients(String method, Object params) {
        return Mono.whenDelayError(sessions.values().stream().map(held -> held.session.sendNotification(method, params)
                .onErrorResume(e -> Mono.empty())).toList());
    }

    @Override
    public Mono<Void> closeGracefully() {
        return Mono.whenDelayError(sessions.values().stream().map(held -> held.session.closeGracefully()).toList())
                .doFinally(ignored -> sessions.clear());
    }

    private void handle(RoutingContext rc) {
        String authorization = rc.request().getHeader("Authorization");
        KeyScope scope = keys.scopeOf(authorization).orElse(null);
        if (scope == null) {
            problem(rc, Problem.of(401, "unauthorized", "Unauthorized", "Send a valid API key as Authorization: Bearer <key>."),
                    Map.of("WWW-Authenticate", "Bearer"));
            return;
        }
        if (!sameOrigin(rc)) {
            problem(rc, Problem.of(403, "forbidden-origin", "Origin not allowed",
                    "Browsers may call /mcp only from this service's own origin."), Map.of());
            return;
        }
        String version = rc.request().getHeader(HttpHeaders.PROTOCOL_VERSION);
        if (version != null && !VERSIONS.contains(version)) {
            jsonRpcError(rc, 400, McpSchema.ErrorCodes.INVALID_REQUEST, "Unsupported MCP-Protocol-Version '" + version
                    + "'; supported: " + String.join(", ", VERSIONS) + ".");
            return;
        }
        McpTransportContext context = McpTransportContext.create(Map.of(SCOPE, scope, AUTHORIZATION, authorization));
        HttpMethod method = rc.request().method();
        if (method == HttpMethod.POST) {
            post(rc, scope, context);
        } else if (method == HttpMethod.GET) {
            get(rc, scope, context);
        } else if (method == HttpMethod.DELETE) {
            Held held = held(rc, scope);
            if (held != null) {
                sessions.remove(held.session.getId());
                held.session.delete().contextWrite(c -> c.put(McpTransportContext.KEY, context))
                        .subscribe(null, failure -> end(rc, 204), () -> end(rc, 204));
            }
        } else {
            rc.response().setStatusCode(405).putHeader("Allow", "GET, POST, DELETE").end();
        }
    }

    private void post(RoutingContext rc, KeyScope scope, McpTransportContext context) {
        String accept = rc.request().getHeader("Accept");
        if (accept == null || !accept.contains("application/json") || !accept.contains("text/event-stream")) {
            jsonRpcError(rc, 406, McpSchema.ErrorCodes.INVALID_REQUEST,
                    "Accept must list both application/json and text/event-stream.");
            return;
        }
        McpSchema.JSONRPCMessage message;
        try {
            message = McpSchema.deserializeJsonRpcMessage(json, rc.body().asString());
        } catch (IOException e) {
            jsonRpcError(rc, 400, McpSchema.ErrorCodes.PARSE_ERROR, "The body is not JSON.");
            return;
        } catch (RuntimeException e) {
            jsonRpcError(rc, 400, McpSchema.ErrorCodes.INVALID_REQUEST, "The body is not one JSON-RPC message.");
            return;
        }
        if (message instanceof McpSchema.JSONRPCRequest request && McpSchema.METHOD_INITIALIZE.equals(request.method())) {
            initialize(rc, scope, request);
            return;
        }
        Held held = held(rc, scope);
        if (held == null) {
            return;
        }
        Mono<Void> handled;
        if (message instanceof McpSchema.JSONRPCRequest request) {
            HttpServerResponse response = sse(rc);
            McpStream stream = new McpStream(UUID.randomUUID().toString(), json, config.replayEvents(), response);
            held.add(stream);
            held.session.responseStream(request, stream).contextWrite(c -> c.put(McpTransportContext.KEY, context))
                    .subscribe(null, failure -> {
                        LOG.debug("MCP request failed", failure);
                        stream.close();
                    });
            return;
        } else if (message instanceof McpSchema.JSONRPCNotification notification) {
            handled = held.session.accept(notification);
        } else {
            handled = held.session.accept((McpSchema.JSONRPCResponse) message);
        }
        handled.contextWrite(c -> c.put(McpTransportContext.KEY, context))
                .subscribe(null, failure -> end(rc, 202), () -> end(rc, 202));
    }

    private void initialize(RoutingContext rc, KeyScope scope, McpSchema.JSONRPCRequest request) {
        if (factory != null) {
            startSession(rc, scope, request);
            return;
        }
        // The first initialize builds the SDK's server (McpTools), off the event loop; it hands this
        // transport its session factory.
        rc.vertx().executeBlocking(tools::get).onComplete(built -> {
            if (built.failed()) {
                LOG.errorf(built.cause(), "the MCP server did not start");
                jsonRpcError(rc, 500, McpSchema.ErrorCodes.INTERNAL_ERROR, "The MCP server did not start.");
            } else {
                startSession(rc, scope, request);
            }
        });
    }

    private void startSession(RoutingContext rc, KeyScope scope, McpSchema.JSONRPCRequest request) {
        if (factory == null) {
            jsonRpcError(rc, 503, McpSchema.ErrorCodes.INTERNAL_ERROR, "The MCP server is starting; retry shortly.");
            return;
        }
        if (sessions.size() >= config.maxSessions()) {
            expire();
            if (sessions.size() >= config.maxSessions()) {
                jsonRpcError(rc, 503, McpSchema.ErrorCodes.INTERNAL_ERROR,
                        "The server holds its most MCP sessions (sandstream.mcp.max-sessions); retry later.");
                return;
            }
        }
        McpSchema.InitializeRequest params;
        try {
            params = json.convertValue(request.params(), new TypeRef<McpSchema.InitializeRequest>() {
            });
        } catch (RuntimeException e) {
            jsonRpcError(rc, 400, McpSchema.ErrorCodes.INVALID_PARAMS, "initialize needs protocolVersion, capabilities and clientInfo.");
            return;
        }
        McpStreamableServerSession.McpStreamableServerSessionInit init = factory.startSession(params);
        sessions.put(init.session().getId(), new Held(init.session(), scope));
        init.initResult().subscribe(result -> write(rc.response().putHeader(HttpHeaders.MCP_SESSION_ID, init.session().getId()),
                200, new McpSchema.JSONRPCResponse(McpSchema.JSONRPC_VERSION, request.id(), result, null)), failure -> {
                    sessions.remove(init.session().getId());
                    jsonRpcError(rc, 500, McpSchema.ErrorCodes.INTERNAL_ERROR, "initialize failed: " + failure.getMessage());
                });
    }

    /** The GET stream, or with {@code Last-Event-ID} the rest of a stream whose connection dropped. */
    private void get(RoutingContext rc, KeyScope scope, McpTransportContext context) {
        String accept = rc.request().getHeader("Accept");
        if (accept == null || !accept.contains("text/event-stream")) {
            jsonRpcError(rc, 406, McpSchema.ErrorCodes.INVALID_REQUEST, "Accept must list text/event-stream.");
            return;
        }
        Held held = held(rc, scope);
        if (held == null) {
            return;
        }
        String lastEventId = rc.request().getHeader(HttpHeaders.LAST_EVENT_ID);
        if (lastEventId != null) {
            McpStream stream = held.stream(McpStream.streamOf(lastEventId));
            if (stream == null || !lastEventId.matches(".+_[0-9]{1,18}")) {
                jsonRpcError(rc, 404, McpSchema.ErrorCodes.INVALID_REQUEST, "No stream of this session has the event '"
                        + lastEventId + "' any more.");
                return;
            }
            stream.resume(lastEventId, sse(rc));
            return;
        }
        if (held.session.hasListeningStream()) {
            jsonRpcError(rc, 409, McpSchema.ErrorCodes.INVALID_REQUEST, "This session already has its GET stream open.");
            return;
        }
        HttpServerResponse response = sse(rc);
        McpStream stream = new McpStream(UUID.randomUUID().toString(), json, config.replayEvents(), response);
        held.add(stream);
        McpStreamableServerSession.McpStreamableServerSessionStream listening = held.session.listeningStream(stream);
        response.closeHandler(ignored -> {
            listening.close();
            held.session.releaseListeningStream();
        });
    }

    /** The caller's session from {@code Mcp-Session-Id}, or null once a 400/404 is answered. */
    private Held held(RoutingContext rc, KeyScope scope) {
        String id = rc.request().getHeader(HttpHeaders.MCP_SESSION_ID);
        if (id == null || id.isBlank()) {
            jsonRpcError(rc, 400, McpSchema.ErrorCodes.INVALID_REQUEST, "Mcp-Session-Id is required after initialize.");
            return null;
        }
        Held held = sessions.get(id);
        if (held == null || !held.owner.equals(scope)) {
            // Another key's session is not there at all, like one that never existed.
            jsonRpcError(rc, 404, McpSchema.ErrorCodes.INVALID_REQUEST, "No MCP session '" + id + "'; initialize again.");
            return null;
        }
        held.lastUsed = Instant.now();
        return held;
    }

    private void expire() {
        Instant cutoff = Instant.now().minus(config.sessionIdleTimeout());
        sessions.values().removeIf(held -> {
            if (held.lastUsed.isBefore(cutoff)) {
                held.session.close();
                return true;
            }
            return false;
        });
    }

    private static HttpServerResponse sse(RoutingContext rc) {
        HttpServerResponse response = rc.response().setStatusCode(200).setChunked(true)
                .putHeader("Content-Type", "text/event-stream").putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no");
        response.write("");
        return response;
    }

    /**
     * A browser's cross-origin call is refused (the spec's DNS-rebinding guard); clients that are
     * not browsers send no {@code Origin}.
     */
    private static boolean sameOrigin(RoutingContext rc) {
        String origin = rc.request().getHeader("Origin");
        if (origin == null) {
            return true;
        }
        try {
            URI uri = URI.create(origin);
            String host = rc.request().authority() == null ? null : rc.request().authority().host();
            return uri.getHost() != null && uri.getHost().equalsIgnoreCase(host);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private void jsonRpcError(RoutingContext rc, int status, int code, String message) {
        // A JSON-RPC error about no request in particular has a null id, which the SDK's record refuses.
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jsonrpc", McpSchema.JSONRPC_VERSION);
        body.put("id", null);
        body.put("error", new McpSchema.JSONRPCResponse.JSONRPCError(code, message, null));
        write(rc.response(), status, body);
    }

    private void problem(RoutingContext rc, Problem problem, Map<String, String> headers) {
        HttpServerResponse response = rc.response().setStatusCode(problem.status()).putHeader("Content-Type", Problem.MEDIA_TYPE);
        headers.forEach(response::putHeader);
        try {
            response.end(json.writeValueAsString(problem));
        } catch (IOException e) {
            response.end();
        }
    }

    private void write(HttpServerResponse response, int status, Object body) {
        try {
            response.setStatusCode(status).putHeader("Content-Type", "application/json").end(json.writeValueAsString(body));
        } catch (IOException e) {
            response.setStatusCode(500).end();
        }
    }

    private static void end(RoutingContext rc, int status) {
        if (!rc.response().ended()) {
            rc.response().setStatusCode(status).end();
        }
    }
}
