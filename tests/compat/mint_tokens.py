"""Mints the JWTs the auth tests send, with PyJWT (and `cryptography` for the keys).

Reads a JSON spec on stdin: {"dir": <where to write keys>, "tokens": {name: {"alg", "key",
"claims", "headers"?}}}. Keys are made here: "hs" (a shared secret), "rsa", "rsa_other",
"rsa_k1", "rsa_k2" (RSA 2048), "ec", "ec_other" (P-256), or "none" (alg none, no key). A
claim value "now+N" / "now-N" is the current time plus or minus N seconds. Writes each key's
public PEM (<key>.pem; hs.txt for the secret) and jwks_k1.json, jwks_k2.json, jwks_both.json,
and prints {name: token} as JSON.
"""

import json
import os
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm


def main() -> None:
    spec = json.load(sys.stdin)
    out = spec["dir"]
    secret = "agentos-test-secret-of-at-least-32-bytes!!"
    keys = {"hs": secret}
    for name in ("rsa", "rsa_other", "rsa_k1", "rsa_k2"):
        keys[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for name in ("ec", "ec_other"):
        keys[name] = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(out, "hs.txt"), "w") as f:
        f.write(secret)
    for name, key in keys.items():
        if name == "hs":
            continue
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with open(os.path.join(out, f"{name}.pem"), "wb") as f:
            f.write(pem)

    def jwk(name: str) -> dict:
        value = json.loads(RSAAlgorithm.to_jwk(keys[name].public_key()))
        value.update({"kid": name.removeprefix("rsa_"), "alg": "RS256", "use": "sig"})
        return value

    for file, names in (("jwks_k1", ["rsa_k1"]), ("jwks_k2", ["rsa_k2"]), ("jwks_both", ["rsa_k1", "rsa_k2"])):
        with open(os.path.join(out, f"{file}.json"), "w") as f:
            json.dump({"keys": [jwk(n) for n in names]}, f)

    now = int(time.time())

    def claim(value):
        if isinstance(value, str) and value.startswith("now"):
            return now + int(value[3:] or 0)
        return value

    tokens = {}
    for name, t in spec["tokens"].items():
        claims = {k: claim(v) for k, v in t["claims"].items()}
        key = None if t["key"] == "none" else keys[t["key"]]
        tokens[name] = jwt.encode(claims, key, algorithm=t["alg"], headers=t.get("headers"))
    json.dump(tokens, sys.stdout)


if __name__ == "__main__":
    main()
