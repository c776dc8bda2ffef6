#!/usr/bin/env python3
"""The executionId sandstream gives an event: io.sandstream.model.ExecutionIds.of(source, id), a
name-based UUID (version 5 layout over SHA-1) of both. deploy.sh uses it to await its test event;
ContainerAppsTemplatesTest checks it against the Java original."""
import hashlib
import sys
import uuid

NAMESPACE = uuid.UUID("5a6d3c1e-7f0b-4c52-9d1e-8b2a4e6f1c30")


def execution_id(source: str, event_id: str) -> str:
    s, i = source.encode(), event_id.encode()
    name = NAMESPACE.bytes + len(s).to_bytes(4, "big") + s + len(i).to_bytes(4, "big") + i
    digest = bytearray(hashlib.sha1(name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


if __name__ == "__main__":
    print(execution_id(sys.argv[1], sys.argv[2]))
