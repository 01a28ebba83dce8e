"""A Lambda custom runtime in the Python standard library, for testing Tollgate's Runtime API.

It speaks the Runtime API over one keep-alive http.client connection and answers each event
with what it saw. The event (a JSON object) steers it:

  {"sleep": 1.5}          sleep that many seconds first
  {"crash": 3}            exit with that status mid-invocation
  {"error": "message"}    report a function error (POST …/error)
  {"big": 7000000}        answer with a string of that many bytes
  {"badid": true}         answer to a made-up request id (expects 400), then answer properly

Environment switches for init: WORKER_INIT_ERROR=message posts /init/error and exits 1;
WORKER_INIT_CRASH=status exits before asking for an invocation; WORKER_INIT_SLEEP=seconds
sleeps before the first `next`.
"""

import http.client
import json
import os
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
ENV_SEEN = [
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "LAMBDA_TASK_ROOT",
    "TZ",
    "_HANDLER",
    "CUSTOM",
]

conn = http.client.HTTPConnection(API)


def call(method, path, body=None, headers=None):
    conn.request(method, BASE + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, resp.headers, data


def main():
    if os.environ.get("WORKER_INIT_SLEEP"):
        time.sleep(float(os.environ["WORKER_INIT_SLEEP"]))
    if os.environ.get("WORKER_INIT_CRASH"):
        sys.exit(int(os.environ["WORKER_INIT_CRASH"]))
    if os.environ.get("WORKER_INIT_ERROR"):
        err = {"errorMessage": os.environ["WORKER_INIT_ERROR"], "errorType": "Runtime.InitTest"}
        status, _, _ = call(
            "POST",
            "/init/error",
            json.dumps(err),
            {"Lambda-Runtime-Function-Error-Type": "Runtime.InitTest"},
        )
        print("init error posted:", status, flush=True)
        sys.exit(1)
    while True:
        status, headers, data = call("GET", "/invocation/next")
        if status != 200:
            print("next refused:", status, data, flush=True)
            sys.exit(2)
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(data or b"null")
        cmd = event if isinstance(event, dict) else {}
        if "sleep" in cmd:
            time.sleep(float(cmd["sleep"]))
        if "crash" in cmd:
            sys.exit(int(cmd["crash"]))
        if cmd.get("badid"):
            status, _, body = call("POST", "/invocation/not-the-id/response", b"{}")
            cmd["badid_status"] = status
            cmd["badid_body"] = json.loads(body)
        if "error" in cmd:
            err = {"errorMessage": cmd["error"], "errorType": "TestError", "stackTrace": ["worker.py"]}
            status, _, _ = call(
                "POST",
                "/invocation/%s/error" % rid,
                json.dumps(err),
                {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            )
            continue
        if "big" in cmd:
            result = json.dumps("x" * int(cmd["big"]))
        else:
            result = json.dumps(
                {
                    "requestId": rid,
                    "pid": os.getpid(),
                    "event": event,
                    "deadlineMs": int(headers["Lambda-Runtime-Deadline-Ms"]),
                    "arn": headers["Lambda-Runtime-Invoked-Function-Arn"],
                    "traceId": headers["Lambda-Runtime-Trace-Id"],
                    "env": {k: os.environ.get(k) for k in ENV_SEEN},
                }
            )
        status, _, body = call("POST", "/invocation/%s/response" % rid, result)
        if status != 202:
            print("response refused:", status, body[:200], flush=True)


if __name__ == "__main__":
    main()
