"""boto3 side of the AWS integration test, against a moto server on 127.0.0.1:PORT.

  sqs.py setup PORT           create an IAM user with an access key (moto checks signatures
                              after its first unauthenticated calls) and the queue
                              `tollgate-q`; prints {"id", "secret", "queue"} as JSON
  sqs.py receive PORT ID SECRET QUEUE_URL
                              prints the bodies of the messages waiting in the queue (JSON list)
"""
import json
import sys

import boto3


def client(service, port, key_id, secret):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def setup(port):
    iam = client("iam", port, "bootstrap", "bootstrap")
    iam.create_user(UserName="apigateway")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="apigateway", PolicyName="all", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="apigateway")["AccessKey"]
    sqs = client("sqs", port, "bootstrap", "bootstrap")
    url = sqs.create_queue(QueueName="tollgate-q")["QueueUrl"]
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "queue": url}))


def receive(port, key_id, secret, url):
    sqs = client("sqs", port, key_id, secret)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    print(json.dumps([m["Body"] for m in got.get("Messages", [])]))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "receive": receive}[cmd](*args)
