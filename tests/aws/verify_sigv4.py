"""Checks a recorded request's SigV4 signature with botocore, AWS's own signer.

  verify_sigv4.py SERVICE REGION KEY_ID SECRET [SESSION_TOKEN]
reads {"method", "url", "headers": [[name, value], ...], "body_b64"} on stdin, re-signs the
request with the headers its Authorization names at its X-Amz-Date, and prints
{"expected": <botocore's Authorization>, "got": <the request's>}.
"""
import base64
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    service, region, key_id, secret = sys.argv[1:5]
    token = sys.argv[5] if len(sys.argv) > 5 else None
    rec = json.load(sys.stdin)
    headers = {k.lower(): v for k, v in rec["headers"]}
    got = headers["authorization"]
    signed = got.split("SignedHeaders=")[1].split(",")[0].split(";")
    req = AWSRequest(
        method=rec["method"],
        url=rec["url"],
        data=base64.b64decode(rec["body_b64"]),
        headers={name: headers[name] for name in signed},
    )
    req.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials(key_id, secret, token), service, region)
    canonical = auth.canonical_request(req)
    string_to_sign = auth.string_to_sign(req, canonical)
    signature = auth.signature(string_to_sign, req)
    scope = auth.scope(req)
    expected = (
        f"AWS4-HMAC-SHA256 Credential={scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    print(json.dumps({"expected": expected, "got": got}))


main()
