"""Mints the tokens of the Cognito/OIDC authorizer tests with PyJWT.

usage: mint.py DIR ISSUER CLIENT_ID

Writes DIR/jwks.json (the public key of a fresh RSA key, kid "k1") and prints one JSON object
{case: token}. Every token but the `valid_*` ones must be refused.
"""

import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

out_dir, issuer, client = sys.argv[1], sys.argv[2], sys.argv[3]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)

public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
public_jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
with open(f"{out_dir}/jwks.json", "w") as f:
    json.dump({"keys": [public_jwk]}, f)
public_pem = key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)

now = int(time.time())
id_claims = {
    "sub": "user-1",
    "iss": issuer,
    "aud": client,
    "token_use": "id",
    "email": "user1@example.com",
    "custom:role": "admin",
    "iat": now,
    "exp": now + 600,
}
access_claims = {
    "sub": "user-1",
    "iss": issuer,
    "client_id": client,
    "token_use": "access",
    "scope": "openid pets/read",
    "iat": now,
    "exp": now + 600,
}


def rs256(claims, private=key, headers=None):
    return jwt.encode(claims, private, algorithm="RS256", headers=headers or {"kid": "k1"})


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_claims(**changes):
    return dict(id_claims, **changes)


# HS256 with the RSA public key as the HMAC secret (PyJWT refuses to do it, so by hand).
confusion_input = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode()) + "." + b64(
    json.dumps(id_claims).encode()
)
confusion = confusion_input + "." + b64(
    hmac.new(public_pem, confusion_input.encode(), hashlib.sha256).digest()
)

valid_id = rs256(id_claims)
head, _, sig = valid_id.split(".")
tampered = ".".join([head, b64(json.dumps(with_claims(sub="admin")).encode()), sig])

attacker_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
tokens = {
    "valid_id": valid_id,
    "valid_access": rs256(access_claims),
    "expired": rs256(with_claims(exp=now - 10)),
    "future_nbf": rs256(with_claims(nbf=now + 600)),
    "wrong_iss": rs256(with_claims(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other")),
    "wrong_aud": rs256(with_claims(aud="another-client")),
    "no_exp": rs256({k: v for k, v in id_claims.items() if k != "exp"}),
    "alg_confusion_hs256": confusion,
    "alg_none": jwt.encode(id_claims, None, algorithm="none", headers={"kid": "k1"}),
    "kid_injection": rs256(
        id_claims,
        private=attacker,
        headers={"kid": "../../../../dev/null", "jwk": attacker_jwk, "jku": "http://127.0.0.1:1/jwks.json"},
    ),
    "wrong_key_known_kid": rs256(id_claims, private=attacker),
    "tampered_payload": tampered,
    "access_without_scope": rs256(dict(access_claims, scope="openid other/scope")),
    "access_token_as_id_token": rs256(access_claims),
    "id_token_as_access_token": valid_id,
}
print(json.dumps(tokens))
