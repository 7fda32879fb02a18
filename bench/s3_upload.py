"""Upload throughput to a local S3 endpoint (moto's server, as in the tests): the same
files uploaded by sluice's S3 store (build/tools/s3_tool, streaming multipart) and by
boto3's upload_file (the engine of the AWS CLI's `aws s3 cp`, with the CLI's defaults:
8 MiB parts, 10 threads) in the same run, and by `aws s3 cp` itself when the AWS CLI is
installed. Prints MB/s and the ratio.

    .venv/bin/python bench/s3_upload.py [--mb 256] [--files 2]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from s3_fixtures import Moto, free_port  # noqa: E402

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256, help="size of each file")
    ap.add_argument("--files", type=int, default=2)
    a = ap.parse_args()
    moto = Moto(free_port())
    tmp = Path(tempfile.mkdtemp())
    try:
        files = []
        for i in range(a.files):
            f = tmp / f"f{i}.bin"
            with open(f, "wb") as out:
                for _ in range(a.mb):
                    out.write(os.urandom(1 << 20))
            files.append(f)
        total = a.mb * a.files
        bucket = moto.new_bucket()
        env = dict(os.environ, **moto.env(S3_PART_SIZE=8 << 20, S3_MAX_INFLIGHT=10))
        rows = []
        t0 = time.monotonic()
        for f in files:
            subprocess.run([str(ROOT / "build/tools/s3_tool"), "put", f"s3://{bucket}/sluice", f.name, str(f)], env=env,
                           check=True, capture_output=True)
        rows.append(("sluice (s3_tool)", time.monotonic() - t0))
        client = moto.boto()
        cfg = TransferConfig(multipart_chunksize=8 << 20, max_concurrency=10)
        t0 = time.monotonic()
        for f in files:
            client.upload_file(str(f), bucket, "boto3/" + f.name, Config=cfg)
        rows.append(("boto3 upload_file", time.monotonic() - t0))
        if shutil.which("aws"):
            aenv = dict(os.environ, AWS_ACCESS_KEY_ID=moto.access_key, AWS_SECRET_ACCESS_KEY=moto.secret_key,
                        AWS_DEFAULT_REGION="us-east-1")
            t0 = time.monotonic()
            for f in files:
                subprocess.run(["aws", "--endpoint-url", moto.endpoint, "s3", "cp", str(f), f"s3://{bucket}/cli/"],
                               env=aenv, check=True, capture_output=True)
            rows.append(("aws s3 cp", time.monotonic() - t0))
        else:
            print("(the AWS CLI is not installed: boto3's upload_file stands in for it)")
        for f in files:  # the same bytes arrived
            a1 = client.head_object(Bucket=bucket, Key=f"sluice/{f.name}")["ContentLength"]
            assert a1 == f.stat().st_size
        base = rows[1][1]
        print(f"{a.files} files x {a.mb} MiB to moto at {moto.endpoint}")
        print(f"{'uploader':20} {'seconds':>8} {'MB/s':>8} {'time vs boto3':>14}")
        for name, s in rows:
            print(f"{name:20} {s:8.2f} {total * 1.048576 / s:8.1f} {s / base:14.2f}")
    finally:
        moto.stop()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
