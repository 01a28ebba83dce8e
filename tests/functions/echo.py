"""A Lambda proxy (payload format 1.0) echo function for awslambdaric:
`python3 -m awslambdaric echo.handler` with AWS_LAMBDA_RUNTIME_API set.

The response body is JSON describing the event (method, path, resource, headers,
multiValueHeaders, queryStringParameters, multiValueQueryStringParameters, pathParameters,
stageVariables, body, isBase64Encoded, requestContext) plus the event itself under "raw".

Query string controls (same as examples/lambda_echo.rs):
  status=NNN          response status (default 200)
  sleep_ms=N          wait that long first
  panic=1             raise an exception (an Unhandled function error)
  error=MESSAGE       raise an exception with that message
  base64=1            body base64-encoded with isBase64Encoded: true
  multi=1             also set multiValueHeaders (X-Echo-Multi: a, b; two Set-Cookie)
  content_type=T      the response Content-Type (default none: the gateway's default)
  malformed=1         return an object with an unknown key (the gateway answers 502)
  gateway_headers=1   also return headers the gateway writes itself (Date, Server,
                      Connection, x-amzn-RequestId, x-amz-apigw-id)
"""

import base64
import json
import time

CONTEXT_KEYS = [
    "accountId",
    "apiId",
    "resourceId",
    "resourcePath",
    "stage",
    "domainName",
    "domainPrefix",
    "requestId",
    "protocol",
    "path",
    "httpMethod",
    "requestTime",
    "requestTimeEpoch",
]
IDENTITY_KEYS = ["sourceIp", "userAgent", "apiKey", "apiKeyId", "user", "userArn"]


def handler(event, context):
    q = event.get("queryStringParameters") or {}
    if "sleep_ms" in q:
        time.sleep(int(q["sleep_ms"]) / 1000.0)
    if q.get("panic") == "1":
        raise RuntimeError("panic requested by the query string")
    if "error" in q:
        raise Exception(q["error"])
    if q.get("malformed") == "1":
        return {"statusCode": 200, "wrongValue": "value"}

    rc = event.get("requestContext") or {}
    identity = rc.get("identity") or {}
    echo = {
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "resource": event.get("resource"),
        "headers": event.get("headers"),
        "multiValueHeaders": event.get("multiValueHeaders"),
        "queryStringParameters": event.get("queryStringParameters"),
        "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters"),
        "pathParameters": event.get("pathParameters"),
        "stageVariables": event.get("stageVariables"),
        "body": event.get("body"),
        "isBase64Encoded": event.get("isBase64Encoded"),
        "requestContext": dict(
            {k: rc.get(k) for k in CONTEXT_KEYS},
            identity={k: identity.get(k) for k in IDENTITY_KEYS},
        ),
        "invocationRequestId": context.aws_request_id,
        "raw": event,
    }
    text = json.dumps(echo)

    response = {
        "statusCode": int(q.get("status", "200")),
        "headers": {"x-echo": "echo.py"},
    }
    if "content_type" in q:
        response["headers"]["Content-Type"] = q["content_type"]
    if q.get("gateway_headers") == "1":
        response["headers"].update(
            {
                "Date": "Thu, 01 Jan 1970 00:00:00 GMT",
                "Server": "echo",
                "Connection": "close",
                "x-amzn-RequestId": "from-function",
                "x-amz-apigw-id": "from-function",
            }
        )
    if q.get("multi") == "1":
        response["multiValueHeaders"] = {
            "x-echo-multi": ["a", "b"],
            "set-cookie": ["one=1; Path=/", "two=2; Path=/"],
        }
    if q.get("base64") == "1":
        response["body"] = base64.b64encode(text.encode()).decode()
        response["isBase64Encoded"] = True
    else:
        response["body"] = text
        response["isBase64Encoded"] = False
    return response
