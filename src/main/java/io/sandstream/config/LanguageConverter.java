package io.sandstream.config;

import org.eclipse.microprofile.config.spi.Converter;

import io.sandstream.model.Language;

/**
 * Binds a pool's {@code language} setting. Explicit rather than SmallRye's implicit {@code of}
 * lookup, which would replace {@link Language}'s own message (what a name may hold) with a generic one.
 */
public final class LanguageConverter implements Converter<Language> {

    @Override
    public Language convert(String value) {
        return Language.of(value);
    }
}
