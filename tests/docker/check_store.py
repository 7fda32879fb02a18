"""make test-docker's oracle check: the six datasets the Compose stack's job wrote to the
store (read through boto3 from the moto container) equal, value for value, those of a
single-process `sluice run` of the same database and as-of (a local folder), read with
pyarrow; every file is checked against the size and SHA-256 its _SUCCESS lists.

    python tests/docker/check_store.py ONE_PROCESS_OUTPUT [ENV_FILE]   (the stack's settings: this .env, else the environment)
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

DATASETS = {"inventory_analytics": ["inventory_id"], "order_analytics": ["customer_id"], "hourly_orders": ["hour"],
            "warehouse_utilization": ["warehouse_id"], "product_turnover": ["product_id"],
            "customer_segments": ["frequency_segment"]}


def committed(read):
    """(manifest, {dataset: table}) of a committed partition; read(name) gives a file."""
    m = json.loads(read("_SUCCESS"))
    out = {}
    for f in m["files"]:
        if not f["name"].endswith(".parquet"):
            continue
        data = read(f["name"])
        assert len(data) == f["bytes"] and f["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest(), f["name"]
        out.setdefault(f["name"].split("/")[0], []).append(pq.read_table(pa.BufferReader(data)))
    return m, {k: pa.concat_tables(v) for k, v in out.items()}


def rows(t, key):
    r = [{c: v for c, v in row.items() if c != "run_id"} for row in t.to_pylist()]
    return sorted(r, key=lambda x: tuple(repr(x[k]) for k in key))


def main():
    one = Path(sys.argv[1]) / "business_insights"
    [partition] = [p.name for p in one.iterdir() if (p / "_SUCCESS").exists()]
    env = dict(os.environ)
    for line in Path(sys.argv[2]).read_text().splitlines() if len(sys.argv) > 2 else ():  # the test's .env
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    s3 = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], region_name=env.get("AWS_REGION", "us-east-1"),
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    prefix = f"{env.get('SLUICE_PREFIX', 'lake')}/business_insights/{partition}/"
    mine, a = committed(lambda n: s3.get_object(Bucket=env["SLUICE_BUCKET"], Key=prefix + n)["Body"].read())
    ref, b = committed(lambda n: (one / partition / n).read_bytes())
    assert a.keys() == b.keys() == DATASETS.keys(), (sorted(a), sorted(b))
    for ds, key in DATASETS.items():
        assert a[ds].schema.remove_metadata() == b[ds].schema.remove_metadata(), f"{ds}: schemas differ"
        assert rows(a[ds], key) == rows(b[ds], key), f"{ds}: values differ from the single-process run"
        assert a[ds].num_rows > 0, f"{ds}: empty"
    assert mine["engine"] == "spark", mine.get("engine")
    executors = {t["executor"] for t in mine["tasks"]}
    assert len(executors) == 2, f"tasks ran on {executors}, not on both workers"
    print(f"test-docker: s3://{env['SLUICE_BUCKET']}/{prefix} (Spark, executors {sorted(executors)}) equals the "
          "single-process run: " + ", ".join(f"{k} {a[k].num_rows} rows" for k in DATASETS))


if __name__ == "__main__":
    main()
