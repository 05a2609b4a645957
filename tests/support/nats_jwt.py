#!/usr/bin/python3
"""Writes what a nats-server in operator mode needs, and a user's .creds file, into DIR.

nsc is not packaged for Debian 12, so the integration tests build the operator, account and user
JWTs here from their NKeys (python3-nacl signs them with Ed25519):

  DIR/operator.jwt   the operator (self-signed)
  DIR/server.conf    operator, resolver MEMORY, the account preloaded, JetStream in DIR/js
  DIR/user.creds     a user of the account (JWT and seed): connects
  DIR/stranger.creds a user signed by an account the server does not know: refused

usage: nats_jwt.py DIR PORT
"""
import base64
import hashlib
import json
import os
import sys
import time

import nacl.signing

PREFIX_SEED = 18 << 3
PREFIX_OPERATOR = 14 << 3
PREFIX_ACCOUNT = 0
PREFIX_USER = 20 << 3


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def b32(data):
    return base64.b32encode(data).decode().rstrip("=")


def with_crc(raw):
    return raw + crc16(raw).to_bytes(2, "little")


class nkey:
    def __init__(self, prefix):
        self.prefix = prefix
        self.signing = nacl.signing.SigningKey.generate()

    def public(self):
        return b32(with_crc(bytes([self.prefix]) + bytes(self.signing.verify_key)))

    def seed(self):
        head = bytes([PREFIX_SEED | (self.prefix >> 5), (self.prefix & 31) << 3])
        return b32(with_crc(head + bytes(self.signing)))


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer, subject, name, nats):
    claims = {"iat": int(time.time()), "iss": issuer.public(), "name": name,
              "sub": subject.public(), "nats": nats}
    claims["jti"] = b32(hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest())
    header = b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = issuer.signing.sign(f"{header}.{body}".encode()).signature
    return f"{header}.{body}.{b64url(signature)}"


UNLIMITED_ACCOUNT = {
    "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
               "wildcards": True, "conn": -1, "leaf": -1,
               "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1},
    "type": "account", "version": 2,
}
USER = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user",
        "version": 2}


def creds(user_jwt, user):
    return (f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user.seed()}\n------END USER NKEY SEED------\n")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def main():
    out, port = sys.argv[1], sys.argv[2]
    operator = nkey(PREFIX_OPERATOR)
    account, stranger_account = nkey(PREFIX_ACCOUNT), nkey(PREFIX_ACCOUNT)
    system = nkey(PREFIX_ACCOUNT)  # JetStream needs a system account
    user, stranger = nkey(PREFIX_USER), nkey(PREFIX_USER)
    write(f"{out}/operator.jwt",
          jwt(operator, operator, "parti-test", {"type": "operator", "version": 2}))
    account_jwt = jwt(operator, account, "parti", UNLIMITED_ACCOUNT)
    system_jwt = jwt(operator, system, "SYS", {"type": "account", "version": 2})
    write(f"{out}/server.conf",
          f"listen: 127.0.0.1:{port}\n"
          f"operator: {out}/operator.jwt\n"
          f"system_account: {system.public()}\n"
          "resolver: MEMORY\n"
          f"resolver_preload: {{\n  {account.public()}: {account_jwt}\n"
          f"  {system.public()}: {system_jwt}\n}}\n"
          f"jetstream {{ store_dir: \"{out}/js\" }}\n")
    write(f"{out}/user.creds", creds(jwt(account, user, "worker", USER), user))
    write(f"{out}/stranger.creds",
          creds(jwt(stranger_account, stranger, "stranger", USER), stranger))


if __name__ == "__main__":
    main()
