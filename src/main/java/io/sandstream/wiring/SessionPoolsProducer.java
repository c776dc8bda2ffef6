package io.sandstream.wiring;

import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import io.quarkus.runtime.Startup;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.SessionPools;
import io.sandstream.sessions.aca.AcaPools;
import io.sandstream.sessions.local.LocalPools;

/** Every pool by name from both backends, checked when the service starts (see {@link SessionPools}). */
public class SessionPoolsProducer {

    @Produces
    @Singleton
    @Startup
    SessionPools pools(LocalPools local, AcaPools aca, SandstreamConfig config) {
        return new SessionPools(aca.all(), local.all(), config.routing().rules());
    }
}
