package io.sandstream.ingress;

import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.UriInfo;

import org.jboss.logging.Logger;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.SecurityConfig.IngressAuth;
import io.sandstream.config.SecurityConfig;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.security.EntraTokenValidator;
import io.sandstream.tenancy.KeyScope;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * Who may deliver to {@code /events} ({@code POST} and the {@code OPTIONS} handshake alike): an
 * ingress key ({@code ?code=} or {@code aeg-sas-key}), an Entra ID bearer token (Event Grid's secure
 * webhook delivery), or either, by {@code sandstream.security.ingress-auth}.
 */
@ApplicationScoped
public class IngressAuthenticator {

    private static final Logger LOG = Logger.getLogger(IngressAuthenticator.class);
    private static final String BEARER = "Bearer ";

    private final IngressKeys keys;
    private final IngressAuth mode;
    private final EntraTokenValidator tokens;

    public IngressAuthenticator(IngressKeys keys, SandstreamConfig config) {
        SecurityConfig security = config.security();
        this.keys = keys;
        this.mode = security.ingressAuth()
                .orElse(security.entra().tenantId().isPresent() ? IngressAuth.KEY_OR_BEARER : IngressAuth.KEY);
        this.tokens = mode == IngressAuth.KEY ? null : new EntraTokenValidator(security.entra());
        if (mode == IngressAuth.KEY && security.entra().tenantId().isPresent()) {
            LOG.warn("sandstream.security.entra.tenant-id is set but ingress-auth=key: bearer tokens are not accepted");
        }
    }

    /**
     * The scope of the request's accepted credential, else a 401 problem. A key is checked in place;
     * a token is checked on a worker thread (it may fetch signing keys) and is unscoped: Event
     * Grid's identity delivers for the whole platform.
     */
    public Uni<KeyScope> authenticate(HttpHeaders headers, UriInfo uri) {
        return authenticate(uri.getQueryParameters().getFirst("code"), headers.getHeaderString("aeg-sas-key"),
                headers.getHeaderString(HttpHeaders.AUTHORIZATION));
    }

    /**
     * The same check on the raw credentials: the {@code code} query parameter, the {@code aeg-sas-key}
     * and {@code Authorization} headers, each possibly null. {@code security/CredentialGuard} calls it
     * before the body is read, where there are no JAX-RS types yet.
     */
    public Uni<KeyScope> authenticate(String code, String sasKey, String authorization) {
        if (mode != IngressAuth.BEARER) {
            Optional<KeyScope> scope = keys.scopeOf(code).or(() -> keys.scopeOf(sasKey));
            if (scope.isPresent()) {
                return Uni.createFrom().item(scope.get());
            }
        }
        if (mode == IngressAuth.KEY || authorization == null || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return Uni.createFrom().failure(unauthorized());
        }
        String token = authorization.substring(BEARER.length()).trim();
        return Uni.createFrom().item(() -> {
            try {
                tokens.validate(token);
                return KeyScope.UNSCOPED;
            } catch (EntraTokenValidator.InvalidTokenException e) {
                LOG.debugf("bearer token refused: %s", e.getMessage());
                throw unauthorized();
            }
        }).runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }

    private ProblemException unauthorized() {
        String detail = switch (mode) {
            case KEY -> "Send a valid ingress key as ?code=<key> or the aeg-sas-key header.";
            case BEARER -> "Send a valid Microsoft Entra ID access token as Authorization: Bearer <token>.";
            case KEY_OR_BEARER -> "Send a valid ingress key (?code=<key> or aeg-sas-key) or a valid Microsoft Entra ID"
                    + " access token (Authorization: Bearer <token>).";
        };
        Problem problem = Problem.of(401, "unauthorized", "Unauthorized", detail);
        return mode == IngressAuth.KEY ? new ProblemException(problem)
                : new ProblemException(problem, Map.of("WWW-Authenticate", "Bearer error=\"invalid_token\""));
    }
}
