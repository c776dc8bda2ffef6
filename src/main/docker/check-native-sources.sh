#!/usr/bin/env bash
# Checks the native build's inputs without GraalVM: Quarkus generates the native-image sources
# (arguments, reflection and resource configuration) and this script reads them. It proves the
# registrations are there, not that native-image accepts them (that needs GraalVM or Mandrel).
#   src/main/docker/check-native-sources.sh      (from the repository root; rebuilds target/)
set -euo pipefail
cd "$(dirname "$0")/../../.."
./mvnw -B -q package -Pnative -Dquarkus.native.sources-only=true -DskipTests
sources=target/native-sources
runner=$(ls "$sources"/*-runner.jar)
unzip -p "$runner" META-INF/native-image/reflect-config.json > target/native-reflect-config.json
unzip -p "$runner" META-INF/native-image/resource-config.json > target/native-resource-config.json
python3 - "$sources/native-image.args" <<'PY'
import json, re, sys
reflect = {e["name"] for e in json.load(open("target/native-reflect-config.json"))}
source = open("src/main/java/io/sandstream/config/NativeReflection.java").read()
imports = {name: qualified for qualified, name in re.findall(r"import ([\w.]+\.(\w+));", source)}
targets = source[source.index("targets = {"):source.index("})")]
wanted = {imports[outer] + ("$" + inner if inner else "")
          for outer, inner in re.findall(r"(\w+)(?:\.(\w+))?\.class", targets) if outer in imports}
missing = sorted(wanted - reflect)
resources = json.dumps(json.load(open("target/native-resource-config.json")))
args = open(sys.argv[1]).read()
problems = []
if missing: problems.append("not registered for reflection: " + ", ".join(missing))
if "sandbox/" not in resources: problems.append("sandbox/** is not in the resource configuration")
if "-H:+UseServiceLoaderFeature" not in args: problems.append("ServiceLoader registration is off")
if problems:
    print("\n".join(problems)); sys.exit(1)
print(f"native sources ok: {len(wanted)} JSON types registered, sandbox resources included, ServiceLoader registration on")
PY
