package io.sandstream.secrets;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpHeaders;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;

import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A Key Vault behind the SDK's HTTP seam: an {@link HttpClient} for the real {@code SecretClient}
 * pipeline (challenge authentication, retries, deserialization) that answers as the Key Vault REST
 * API does, with the response bodies in {@code src/test/resources/keyvault/}. Requests without the
 * credential's token get the 401 challenge Key Vault sends; secrets have versions, can be disabled
 * or given a validity window; the whole vault can be made to fail.
 */
public final class RecordedKeyVault implements HttpClient {

    public static final String HOST = "sandstream-test.vault.azure.net";
    public static final String URL = "https://" + HOST;
    static final String TOKEN = "eyJ0eXAiOiJKV1QifQ.test-token.sig";
    static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /** One version of a secret. */
    record Version(String id, String value, boolean enabled, OffsetDateTime notBefore, OffsetDateTime expires) {
    }

    private final Map<String, List<Version>> secrets = new ConcurrentHashMap<>();
    private final List<String> scopes = new CopyOnWriteArrayList<>();
    /** JVM-wide, as the SDK's challenge cache is (per vault host): only the first client is challenged. */
    private static final AtomicInteger CHALLENGES = new AtomicInteger();
    private final AtomicInteger reads = new AtomicInteger();
    private volatile String failure;

    // ---- what the test does to the vault -------------------------------------------------------------

    /** Adds a new current version (what {@code az keyvault secret set} does). */
    public void set(String name, String value) {
        add(name, new Version(newVersion(), value, true, null, null));
    }

    public void add(String name, Version version) {
        secrets.computeIfAbsent(name, n -> new CopyOnWriteArrayList<>()).add(version);
    }

    static String newVersion() {
        return UUID.randomUUID().toString().replace("-", "");
    }

    /** Disables the current version. */
    public void disable(String name) {
        List<Version> versions = secrets.get(name);
        Version last = versions.remove(versions.size() - 1);
        versions.add(new Version(last.id(), last.value(), false, last.notBefore(), last.expires()));
    }

    public void delete(String name) {
        secrets.remove(name);
    }

    /** Every request fails with this recorded body ({@code service-unavailable}, {@code access-denied}) until cleared. */
    public void failWith(String body) {
        this.failure = body;
    }

    public void clear() {
        secrets.clear();
        failure = null;
    }

    public static int challenges() {
        return CHALLENGES.get();
    }

    public int reads() {
        return reads.get();
    }

    public List<String> scopes() {
        return List.copyOf(scopes);
    }

    /** What {@code DefaultAzureCredential} would be: a token for the scope the challenge names. */
    public TokenCredential credential() {
        return request -> {
            scopes.addAll(request.getScopes());
            return Mono.just(new AccessToken(TOKEN, OffsetDateTime.now().plusHours(1)));
        };
    }

    // ---- the REST API --------------------------------------------------------------------------------

    @Override
    public Mono<HttpResponse> send(HttpRequest request) {
        return Mono.fromSupplier(() -> answer(request));
    }

    private HttpResponse answer(HttpRequest request) {
        URL url = request.getUrl();
        if (!url.getHost().equals(HOST) || url.getQuery() == null || !url.getQuery().contains("api-version=")) {
            return respond(request, 400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"bad request\"}}");
        }
        String authorization = request.getHeaders().getValue(HttpHeaderName.AUTHORIZATION);
        if (!("Bearer " + TOKEN).equals(authorization)) {
            CHALLENGES.incrementAndGet();
            HttpResponse challenge = respond(request, 401, body("unauthorized.json"));
            ((Response) challenge).headers.set(HttpHeaderName.WWW_AUTHENTICATE, "Bearer authorization=\"https://login.microsoftonline.com/"
                    + TENANT + "\", resource=\"https://vault.azure.net\"");
            return challenge;
        }
        if (failure != null) {
            return respond(request, failure.equals("access-denied") ? 403 : 503, body(failure + ".json"));
        }
        String[] path = url.getPath().split("/");
        if (path.length < 3 || !path[1].equals("secrets") || request.getHttpMethod() != com.azure.core.http.HttpMethod.GET) {
            return respond(request, 400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"not recorded\"}}");
        }
        reads.incrementAndGet();
        String name = path[2];
        String versionId = path.length > 3 ? path[3] : "";
        List<Version> versions = secrets.getOrDefault(name, List.of());
        Version version = versionId.isEmpty() ? (versions.isEmpty() ? null : versions.get(versions.size() - 1))
                : versions.stream().filter(v -> v.id().equals(versionId)).findFirst().orElse(null);
        if (version == null) {
            return respond(request, 404, body("secret-not-found.json").replace("{{name}}", name));
        }
        if (!version.enabled()) {
            return respond(request, 403, body("secret-disabled.json"));
        }
        String validity = (version.notBefore() == null ? "" : "\"nbf\":" + version.notBefore().toEpochSecond() + ",")
                + (version.expires() == null ? "" : "\"exp\":" + version.expires().toEpochSecond() + ",");
        return respond(request, 200, body("secret.json").replace("{{value}}", version.value()).replace("{{host}}", HOST)
                .replace("{{name}}", name).replace("{{version}}", version.id()).replace("{{enabled}}", "true")
                .replace("{{validity}}", validity));
    }

    private static String body(String resource) {
        try (InputStream in = RecordedKeyVault.class.getResourceAsStream("/keyvault/" + resource)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static HttpResponse respond(HttpRequest request, int status, String body) {
        HttpHeaders headers = new HttpHeaders()
                .set(HttpHeaderName.CONTENT_TYPE, "application/json; charset=utf-8")
                .set(HttpHeaderName.fromString("x-ms-keyvault-service-version"), "1.9.2172.1")
                .set(HttpHeaderName.fromString("x-ms-request-id"), UUID.randomUUID().toString())
                .set(HttpHeaderName.DATE, Instant.now().toString());
        return new Response(request, status, headers, body.getBytes(StandardCharsets.UTF_8));
    }

    private static final class Response extends HttpResponse {
        private final int status;
        private final HttpHeaders headers;
        private final byte[] body;

        Response(HttpRequest request, int status, HttpHeaders headers, byte[] body) {
            super(request);
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        @Override
        public int getStatusCode() {
            return status;
        }

        @Override
        @Deprecated
        public String getHeaderValue(String name) {
            return headers.getValue(HttpHeaderName.fromString(name));
        }

        @Override
        public HttpHeaders getHeaders() {
            return headers;
        }

        @Override
        public Flux<ByteBuffer> getBody() {
            return Flux.just(ByteBuffer.wrap(body));
        }

        @Override
        public Mono<byte[]> getBodyAsByteArray() {
            return Mono.just(body);
        }

        @Override
        public Mono<String> getBodyAsString() {
            return Mono.just(new String(body, StandardCharsets.UTF_8));
        }

        @Override
        public Mono<String> getBodyAsString(Charset charset) {
            return Mono.just(new String(body, charset));
        }
    }

    /** Versions of {@code name}, oldest first (for assertions). */
    List<Version> versions(String name) {
        return new ArrayList<>(secrets.getOrDefault(name, List.of()));
    }
}
