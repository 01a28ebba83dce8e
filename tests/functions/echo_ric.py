"""An awslambdaric handler (`python3 -m awslambdaric echo_ric.handler`) that echoes its event
with what the Lambda context told it; `{"fail": "message"}` raises instead."""


def handler(event, context):
    if isinstance(event, dict) and "fail" in event:
        raise ValueError(event["fail"])
    return {
        "event": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "remainingMs": context.get_remaining_time_in_millis(),
        "logGroupName": context.log_group_name,
        "logStreamName": context.log_stream_name,
    }
