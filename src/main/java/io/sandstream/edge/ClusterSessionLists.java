package io.sandstream.edge;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.SessionOwners;
import io.sandstream.poolapi.PeerSessions;
import io.sandstream.poolapi.PoolApiException;
import io.sandstream.poolapi.ResourceResponses;

/**
 * {@code listSessions} across the cluster ({@code journal.kind=kafka}): the instance that is asked
 * lists its own sessions and asks every other instance of the lane consumer group for theirs (every
 * page, with the caller's key, marked with a {@link HopToken} so that they answer for themselves
 * only), then sorts and pages the whole. The other instances check the key as for any call, so the
 * listing shows what that key would see on each of them.
 */
@ApplicationScoped
public class ClusterSessionLists implements PeerSessions {

    private final SandstreamConfig config;
    private final Instance<KafkaClients> kafka;
    private final HopToken hop;
    private final ObjectMapper json;
    private final HttpClient http;

    ClusterSessionLists(SandstreamConfig config, Instance<KafkaClients> kafka, HopToken hop, ObjectMapper json) {
        this.config = config;
        this.kafka = kafka;
        this.hop = hop;
        this.json = json;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(config.cluster().forwardConnectTimeout()).build();
    }

    /** One mark for both kinds of relayed call (session calls and listings), from one secret. */
    @Produces
    @Singleton
    static HopToken hopToken(SandstreamConfig config) {
        return new HopToken(HopToken.secret(config), Clock.systemUTC());
    }

    private boolean clustered() {
        return config.journal().kind() == SandstreamConfig.JournalKind.KAFKA;
    }

    @Override
    public boolean fromPeer(String mark, String requestTarget) {
        if (mark == null || !clustered()) {
            return false;
        }
        if (!hop.valid(mark, "GET", requestTarget)) {
            throw new PoolApiException(403, "ForwardRefused", "Only the service's own instances may send a call as forwarded.");
        }
        return true;
    }

    @Override
    public List<ResourceResponses.Session> list(String pool, String apiVersion, String authorization) {
        if (!clustered()) {
            return List.of();
        }
        List<ResourceResponses.Session> sessions = new ArrayList<>();
        String peer = "another instance";
        try {
            Set<String> peers = kafka.get().owners().peers(config.cluster().ownerWait());
            for (String url : peers) {
                peer = url;
                listAll(url, pool, apiVersion, authorization, sessions);
            }
        } catch (SessionOwners.OwnerUnavailable | IOException e) {
            throw incomplete(peer + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw incomplete("interrupted");
        }
        return sessions;
    }

    /** Every page of one instance's own sessions. */
    private void listAll(String peer, String pool, String apiVersion, String authorization,
            List<ResourceResponses.Session> into) throws IOException, InterruptedException {
        int skip = 0;
        while (true) {
            String target = "/pools/" + encode(pool) + "/listSessions?api-version=" + encode(apiVersion)
                    + (skip > 0 ? "&skip=" + skip : "");
            HttpRequest request = HttpRequest.newBuilder(URI.create(peer + target))
                    .timeout(config.cluster().forwardIdleTimeout())
                    .header("Authorization", authorization).header(HopToken.HEADER, hop.sign("GET", target)).GET().build();
            HttpResponse<byte[]> answer = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            if (answer.statusCode() != 200) {
                throw new IOException("answered " + answer.statusCode());
            }
            ResourceResponses.SessionList page = json.readValue(answer.body(), ResourceResponses.SessionList.class);
            into.addAll(page.sessions());
            if (page.nextLink() == null || page.sessions().isEmpty()) {
                return;
            }
            skip += page.sessions().size();
        }
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }

    private static PoolApiException incomplete(String reason) {
        return new PoolApiException(503, "SessionListIncomplete", "Not every instance of the service could list its"
                + " sessions (" + reason + "); retry.", Map.of("Retry-After", "5"));
    }
}
