package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;

import java.util.Map;

/** Reads values out of {@code /q/metrics} (Prometheus text format) for tests. */
public final class PrometheusText {

    private final String text;

    private PrometheusText(String text) {
        this.text = text;
    }

    public static PrometheusText scrape() {
        return of(given().get("/q/metrics").then().statusCode(200).extract().asString());
    }

    /** A page of {@code /q/metrics} read some other way (another process, another client). */
    public static PrometheusText of(String text) {
        return new PrometheusText(text);
    }

    /**
     * The sum of the samples of {@code name} that have every label of {@code labels} (0 when there is
     * none), so a test can compare before and after without caring about the other labels.
     */
    public double value(String name, Map<String, String> labels) {
        double sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            // "series value", or "series value # {exemplar labels} value timestamp" where the sample has an
            // exemplar (a span was current when it moved): the exemplar's numbers are not the sample's.
            int exemplar = line.indexOf(" # {");
            String sample = exemplar < 0 ? line : line.substring(0, exemplar);
            int space = sample.lastIndexOf(' ');
            String series = sample.substring(0, space);
            if (labels.entrySet().stream().allMatch(l -> series.contains(l.getKey() + "=\"" + l.getValue() + "\""))) {
                sum += Double.parseDouble(sample.substring(space + 1));
            }
        }
        return sum;
    }

    /** The sample lines whose metric name starts with {@code prefix}, for failure messages. */
    public String series(String prefix) {
        return String.join("\n", text.lines().filter(line -> line.startsWith(prefix)).toList());
    }

    /** True when a sample line of {@code name} is there at all. */
    public boolean has(String name) {
        return text.lines().anyMatch(line -> line.startsWith(name + "{") || line.startsWith(name + " "));
    }

    @Override
    public String toString() {
        return text;
    }
}
