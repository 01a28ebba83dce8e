"""A Lambda authorizer (TOKEN and REQUEST) for awslambdaric:
`python3 -m awslambdaric authorizer.handler` with AWS_LAMBDA_RUNTIME_API set.

Every invocation appends its event, as one JSON line, to the file named by AUTH_LOG, so
tests can count invocations and read the events.

The identity (TOKEN: the token; REQUEST: the `HeaderAuth1` header) steers the answer:
  allow          Allow on the event's methodArn, with a context and a usageIdentifierKey
  allow-all      Allow on every method of every API
  deny           Deny on the event's methodArn
  unauthorized   raise Exception("Unauthorized")
  error          raise Exception("Error: Invalid token")
  bad-context    Allow with a context value that is an object
  http           an HTTP-style answer ({"statusCode": 401, ...})
  no-principal   a policy without principalId
"""

import json
import os


def policy(effect, resource):
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def handler(event, context):
    with open(os.environ["AUTH_LOG"], "a") as log:
        log.write(json.dumps(event) + "\n")
    if event.get("type") == "TOKEN":
        identity = event.get("authorizationToken")
    else:
        identity = (event.get("headers") or {}).get("HeaderAuth1")
    arn = event["methodArn"]
    if identity == "unauthorized":
        raise Exception("Unauthorized")
    if identity == "error":
        raise Exception("Error: Invalid token")
    if identity == "http":
        return {"statusCode": 401, "body": "no"}
    if identity == "no-principal":
        return {"policyDocument": policy("Allow", arn)}
    if identity == "deny":
        return {"principalId": "denied-user", "policyDocument": policy("Deny", arn)}
    if identity == "bad-context":
        return {
            "principalId": "u",
            "policyDocument": policy("Allow", arn),
            "context": {"obj": {"a": 1}},
        }
    resource = "arn:aws:execute-api:*" if identity == "allow-all" else arn
    return {
        "principalId": "my-username",
        "policyDocument": policy("Allow", resource),
        "context": {"str": "hello", "num": 123, "bool": True, "null": None},
        "usageIdentifierKey": "usage-key-from-authorizer",
    }
