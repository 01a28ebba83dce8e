"""Signs requests with botocore for tests/iam.rs.

Reads a JSON list of requests on stdin; each has `mode` ("header": SigV4Auth, "query":
SigV4QueryAuth), `method`, `url`, optional `headers` (object), `body` (string), `key`,
`secret`, optional `token`, `region`, optional `expires` (query mode), and the signing time:
`time` (an X-Amz-Date) or `age` (seconds before now; default 0). Writes a JSON list: for each, the `url` and `headers` to send
and botocore's `canonical_request` and `string_to_sign`.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(spec):
    creds = Credentials(spec["key"], spec["secret"], spec.get("token"))
    when = spec.get("time")
    if when:
        fixed = datetime.datetime.strptime(when, "%Y%m%dT%H%M%SZ")
    else:
        fixed = original_now() - datetime.timedelta(seconds=spec.get("age", 0))
    botocore.auth.get_current_datetime = lambda: fixed
    region = spec.get("region", "us-east-1")
    if spec["mode"] == "query":
        auth = SigV4QueryAuth(creds, "execute-api", region, expires=spec.get("expires", 300))
    else:
        auth = SigV4Auth(creds, "execute-api", region)
    body = spec.get("body", "").encode()
    req = AWSRequest(method=spec["method"], url=spec["url"], data=body,
                     headers=spec.get("headers", {}))
    # Keep the strings botocore signs as it signs them.
    seen = {}
    canonical_request, string_to_sign = auth.canonical_request, auth.string_to_sign

    def record_creq(r):
        seen["creq"] = canonical_request(r)
        return seen["creq"]

    def record_sts(r, c):
        seen["sts"] = string_to_sign(r, c)
        return seen["sts"]

    auth.canonical_request, auth.string_to_sign = record_creq, record_sts
    auth.add_auth(req)
    return {
        "url": req.url,
        "headers": [[k, v] for k, v in req.headers.items()],
        "canonical_request": seen["creq"],
        "string_to_sign": seen["sts"],
    }


original_now = botocore.auth.get_current_datetime
json.dump([sign(s) for s in json.load(sys.stdin)], sys.stdout)
