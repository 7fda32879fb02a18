"""A real S3 endpoint for the tests: moto's server mode with signature checking on
(INITIAL_NO_AUTH_ACTION_COUNT: the first three requests create an IAM user, its policy
and its access key; every request after that must be signed with that key), and a
small fault-injecting reverse proxy placed between sluice and moto.

Settings: SLUICE_TEST_MOTO_PORT (default: a free port)."""
import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class Moto:
    def __init__(self, port, **server_env):
        """server_env: more settings of the moto server, e.g. S3_UPLOAD_PART_MIN_SIZE."""
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3", **{k: str(v) for k, v in server_env.items()})
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="setup",
                           aws_secret_access_key="setup")
        iam.create_user(UserName="sluice")
        iam.put_user_policy(UserName="sluice", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="sluice")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        self.client = self.boto()

    def boto(self, secret=None):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=secret or self.secret_key,
                            config=Config(retries={"max_attempts": 1}))

    def env(self, endpoint=None, **extra):
        """Settings for sluice to write to this endpoint (or to a proxy in front of it)."""
        e = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
             "AWS_REGION": "us-east-1", "S3_ENDPOINT": endpoint or self.endpoint, "S3_RETRY_BASE_MS": "20",
             "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def new_bucket(self):
        name = "t-" + uuid.uuid4().hex[:16]
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket, prefix=""):
        out, token = {}, None
        while True:
            kw = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            r = self.client.list_objects_v2(**kw)
            out.update({o["Key"]: o["Size"] for o in r.get("Contents", [])})
            if not r.get("IsTruncated"):
                return out
            token = r["NextContinuationToken"]

    def uploads(self, bucket):
        return self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class FaultProxy:
    """A reverse proxy to `upstream` that applies faults to chosen requests.

    `faults` maps a request number (1-based, in arrival order) to an action; `rule`, if
    set, is called with (number, method, path) and may return an action for any request.
    Actions: "500", "503" (SlowDown), "200-error" (200 with an <Error> document, as
    CompleteMultipartUpload may answer), "drop" (close without answering), "reset"
    (forward, then answer half of the response and close), "nosuchupload" (404
    NoSuchUpload without forwarding), ("delay", seconds). The Host header is passed on
    unchanged, so signatures stay valid."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.faults = {}
        self.rule = None
        self.count = 0
        self.log = []
        self.requests = []  # per request: number, method, path, headers, body digests
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n_body = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n_body) if n_body else b""
                with proxy.lock:
                    proxy.count += 1
                    n = proxy.count
                    action = proxy.faults.get(n)
                    if action is None and proxy.rule:
                        action = proxy.rule(n, self.command, self.path)
                    proxy.log.append((n, self.command, self.path, action))
                    proxy.requests.append({
                        "n": n, "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                        "sha256": hashlib.sha256(body).hexdigest(), "len": len(body)})
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action == "nosuchupload":  # as a server that completes only once would answer
                    data = (b"<?xml version=\"1.0\"?><Error><Code>NoSuchUpload</Code><Message>The specified upload "
                            b"does not exist.</Message></Error>")
                    self.send_response(404)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if action in ("500", "503", "200-error"):
                    code = "SlowDown" if action == "503" else "InternalError"
                    msg = f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
                    data = msg.encode()
                    self.send_response(200 if action == "200-error" else int(action))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if isinstance(action, tuple) and action[0] == "delay":
                    time.sleep(action[1])
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items()}
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                if action == "reset":
                    self.send_response(r.status)
                    self.send_header("Content-Length", str(len(data) + 100))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                # a HEAD answer has no body but the Content-Length of the object
                length = r.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        with self.lock:
            self.faults, self.rule, self.count, self.log, self.requests = {}, None, 0, [], []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
