#!/usr/bin/env python3
"""Checks kinesis-local and moto as started by scripts/emulators.sh (loopback only).

    scripts/emulators.sh start /tmp/emu
    scripts/emulators.sh python tests/emulators/verify_emulators.py /tmp/emu/env [--records 2000]
    scripts/emulators.sh stop /tmp/emu

Runs the checks that tests/emulators/PROTOCOL.md relies on and prints one line
per check ("ok - ..." / "FAIL - ...") plus notes ("# ..."), ending with
"N passed, N failed". Exit status 1 when a check failed.

What it does, in order:
  * wire probes against kinesis-local (SigV4-signed raw HTTP): which
    Content-Types it answers, the error body shape, raw JSON of PutRecord,
    DescribeStreamSummary and GetRecords;
  * creates a 4-shard stream, runs scripts/boto3_producer.py for N records,
    reads them all back with GetShardIterator/GetRecords;
  * --shard-check: compares kinesis-local's shard choice with the MD5 rule;
  * UpdateShardCount 4 -> 8: closed parents, children with ParentShardId,
    GetRecords at the end of a closed parent (no NextShardIterator, ChildShards);
  * moto: S3 create bucket, put/get object.
Every request goes to the 127.0.0.1 endpoints in the env file; loops are bounded.
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCER = os.path.join(ROOT, "scripts", "boto3_producer.py")

PASSED = 0
FAILED = 0


def check(cond, what, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok - {what}" + (f" ({detail})" if detail else ""), flush=True)
    else:
        FAILED += 1
        print(f"FAIL - {what}" + (f" ({detail})" if detail else ""), flush=True)
    return cond


def note(msg):
    print(f"# {msg}", flush=True)


def load_env(path):
    env = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    for key in ("KINESIS_ENDPOINT", "S3_ENDPOINT"):
        host = urlparse(env[key]).hostname
        if host != "127.0.0.1":
            sys.exit(f"{key} is not on 127.0.0.1: {env[key]}")
    return env


def raw_call(endpoint, target, body, content_type="application/x-amz-json-1.1", path="/", extra=None, sign=True):
    """One POST, SigV4-signed unless sign=False; returns (status, headers, body bytes)."""
    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    headers.update(extra or {})
    if sign:
        req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
        SigV4Auth(Credentials("test", "test"), "kinesis", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    r = urllib.request.Request(endpoint + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def md5_hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for(hash_key, shards):
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= hash_key <= int(r["EndingHashKey"]):
            return s["ShardId"]
    return None


def list_shards(k, stream):
    out, token = [], None
    for _ in range(100):
        resp = k.list_shards(NextToken=token) if token else k.list_shards(StreamName=stream)
        out.extend(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            break
    return out


def wait_active(k, stream, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE":
            return s
        time.sleep(0.05)
    raise RuntimeError(f"{stream} not ACTIVE after {timeout}s")


def read_shard(k, stream, shard_id, limit=10000, max_calls=1000):
    """Reads a shard from TRIM_HORIZON; returns (records, last GetRecords response, calls)."""
    it = k.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records, last, calls = [], None, 0
    while it and calls < max_calls:
        last = k.get_records(ShardIterator=it, Limit=limit)
        calls += 1
        records.extend(last["Records"])
        it = last.get("NextShardIterator")
        if not last["Records"] and last.get("MillisBehindLatest", 0) == 0:
            break
    return records, last, calls


def wire_probes(ep, stream):
    note("--- wire probes (raw HTTP) against kinesis-local")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}")
    check(st == 200 and h.get("Content-Type") == "application/x-amz-json-1.1",
          "awsJson1_1: Content-Type application/x-amz-json-1.1 accepted, answered in kind", f"{st} {b[:80]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}", "application/json")
    note(f"Content-Type application/json -> {st}, response Content-Type {h.get('Content-Type')}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"\xa0", "application/x-amz-cbor-1.1")
    note(f"Content-Type application/x-amz-cbor-1.1 (body = CBOR empty map) -> {st}, "
         f"response Content-Type {h.get('Content-Type')}, body {b[:60]!r}")
    st, h, b = raw_call(ep, None, b"\xa0", "application/cbor", "/service/Kinesis_20131202/operation/ListStreams",
                        {"Smithy-Protocol": "rpc-v2-cbor"})
    note(f"rpcv2Cbor (POST /service/Kinesis_20131202/operation/ListStreams, application/cbor) -> {st} {b[:40]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}", "text/plain")
    note(f"Content-Type text/plain -> {st} {b[:60]!r}")

    st, h, b = raw_call(ep, "Kinesis_20131202.DescribeStreamSummary", b'{"StreamName":"no-such-stream"}')
    body = json.loads(b or b"{}")
    check(st == 400 and body.get("__type") == "ResourceNotFoundException",
          "missing stream -> HTTP 400, {\"__type\":\"ResourceNotFoundException\",\"message\":...}",
          f"{st} x-amzn-ErrorType={h.get('x-amzn-ErrorType')} body={b[:160]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.CreateStream", json.dumps({"StreamName": stream, "ShardCount": 4}).encode())
    st2, h2, b2 = raw_call(ep, "Kinesis_20131202.CreateStream", json.dumps({"StreamName": stream, "ShardCount": 4}).encode())
    note(f"CreateStream -> {st} {b[:80]!r}; again -> {st2} {b2[:160]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.PutRecord", json.dumps({"StreamName": stream, "Data": "", "PartitionKey": ""}).encode())
    note(f"PutRecord with empty PartitionKey -> {st} {b[:200]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.GetRecords", b'{"ShardIterator":"not-an-iterator"}')
    note(f"GetRecords with a garbage iterator -> {st} body={b[:200]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.NoSuchOperation", b"{}")
    note(f"unknown X-Amz-Target -> {st} {b[:120]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}", sign=False)
    note(f"unsigned request (no Authorization, no X-Amz-Date) -> {st} {b[:200]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}", sign=False, extra={
        "X-Amz-Date": "20200101T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=00"})
    note(f"Authorization with a bogus signature -> {st} (kinesis-local does not verify signatures)")


def raw_record_probes(ep, stream):
    st, h, b = raw_call(ep, "Kinesis_20131202.DescribeStreamSummary", json.dumps({"StreamName": stream}).encode())
    note(f"raw DescribeStreamSummary: {b.decode()}")
    data = base64.b64encode(b'{"probe":1}').decode()
    st, h, b = raw_call(ep, "Kinesis_20131202.PutRecord",
                        json.dumps({"StreamName": stream, "Data": data, "PartitionKey": "probe"}).encode())
    note(f"raw PutRecord: {b.decode()}")
    shard_id = json.loads(b)["ShardId"]
    st, h, b = raw_call(ep, "Kinesis_20131202.ListShards", json.dumps({"StreamName": stream, "MaxResults": 1}).encode())
    note(f"raw ListShards MaxResults=1: {b.decode()[:600]}")
    st, h, b = raw_call(ep, "Kinesis_20131202.ListStreams", b"{}")
    note(f"raw ListStreams: {b.decode()[:300]}")
    recs = [{"Data": data, "PartitionKey": "p1"}, {"Data": data, "PartitionKey": "p2", "ExplicitHashKey": "0"}]
    st, h, b = raw_call(ep, "Kinesis_20131202.PutRecords", json.dumps({"StreamName": stream, "Records": recs}).encode())
    note(f"raw PutRecords (2 entries): {b.decode()}")
    st, h, b = raw_call(ep, "Kinesis_20131202.GetRecords",
                        json.dumps({"ShardIterator": base64.b64encode(bytes(64)).decode()}).encode())
    note(f"GetRecords with a well-formed base64 but bogus iterator -> {st} {b[:200]!r}")
    st, h, b = raw_call(ep, "Kinesis_20131202.GetShardIterator",
                        json.dumps({"StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "LATEST"}).encode())
    it = json.loads(b)["ShardIterator"]
    note(f"raw GetShardIterator: ShardIterator is {len(it)} chars, e.g. {it[:40]}...")
    st, h, b = raw_call(ep, "Kinesis_20131202.GetRecords", json.dumps({"ShardIterator": it, "Limit": 2}).encode())
    resp = json.loads(b)
    resp["NextShardIterator"] = (resp.get("NextShardIterator") or "")[:16] + "..."
    note(f"raw GetRecords at LATEST (no new data): {json.dumps(resp)}")
    st, h, b = raw_call(ep, "Kinesis_20131202.GetShardIterator",
                        json.dumps({"StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}).encode())
    it = json.loads(b)["ShardIterator"]
    st, h, b = raw_call(ep, "Kinesis_20131202.GetRecords", json.dumps({"ShardIterator": it, "Limit": 1}).encode())
    resp = json.loads(b)
    resp["NextShardIterator"] = (resp.get("NextShardIterator") or "")[:16] + "..."
    note(f"raw GetRecords TRIM_HORIZON Limit=1: {json.dumps(resp)[:700]}")
    rec = resp["Records"][0] if resp.get("Records") else {}
    check(isinstance(rec.get("ApproximateArrivalTimestamp"), (int, float)),
          "ApproximateArrivalTimestamp is a JSON number (epoch seconds)", repr(rec.get("ApproximateArrivalTimestamp")))
    check(isinstance(rec.get("Data"), str), "record Data is a base64 JSON string")
    check(isinstance(resp.get("MillisBehindLatest"), int), "MillisBehindLatest present (integer)", repr(resp.get("MillisBehindLatest")))


def kinesis_flow(env, k, stream, n_records):
    note(f"--- boto3 flow on stream {stream}")
    wait_active(k, stream)
    shards = list_shards(k, stream)
    check(len(shards) == 4, "4 shards after CreateStream(ShardCount=4)", ", ".join(s["ShardId"] for s in shards))
    for s in shards:
        note(f"shard {s['ShardId']} hash {s['HashKeyRange']['StartingHashKey']}..{s['HashKeyRange']['EndingHashKey']} "
             f"start seq {s['SequenceNumberRange']['StartingSequenceNumber']}")
    raw_record_probes(env["KINESIS_ENDPOINT"], stream)

    penv = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, PRODUCER, "--endpoint", env["KINESIS_ENDPOINT"], "--stream", stream,
         "--count", str(n_records), "--first-order-id", "1000", "--seed", "42"],
        env=penv, capture_output=True, text=True, timeout=600)
    note(f"producer stdout: {out.stdout.strip()} stderr: {out.stderr.strip()[-300:]}")
    summary = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
    check(summary.get("sent") == n_records and summary.get("order_ids") == [1000, 1000 + n_records - 1],
          f"producer sent {n_records} records", f"{time.monotonic() - t0:.1f}s")

    total, seqs, per_shard, bad_json, keys_ok = 0, [], {}, 0, True
    ts_seen = mbl_seen = False
    order_ids = set()
    for s in shards:
        recs, last, calls = read_shard(k, stream, s["ShardId"])
        per_shard[s["ShardId"]] = len(recs)
        if last is not None and "MillisBehindLatest" in last:
            mbl_seen = True
        for r in recs:
            seqs.append(r["SequenceNumber"])
            if "ApproximateArrivalTimestamp" in r:
                ts_seen = True
            try:
                ev = json.loads(r["Data"])
            except ValueError:
                bad_json += 1
                continue
            if "OrderID" not in ev:
                continue  # probe record
            order_ids.add(ev["OrderID"])
            if r["PartitionKey"] != str(ev["OrderID"]):
                keys_ok = False
            total += 1
    note(f"records per shard: {per_shard}")
    check(total == n_records and len(order_ids) == n_records, f"read back all {n_records} order events", f"{total}")
    check(keys_ok, "PartitionKey == str(OrderID) on every record")
    check(ts_seen, "ApproximateArrivalTimestamp returned by boto3 (datetime)")
    check(mbl_seen, "MillisBehindLatest returned by GetRecords")
    lens = sorted({len(x) for x in seqs})
    check(all(x.isdigit() for x in seqs), "sequence numbers are decimal digit strings", f"lengths {lens}, e.g. {seqs[0]}")
    shard_of_seq = {}
    ordered = True
    for s in shards:
        recs, _, _ = read_shard(k, stream, s["ShardId"])
        nums = [int(r["SequenceNumber"]) for r in recs]
        ordered &= nums == sorted(nums) and len(set(nums)) == len(nums)
        shard_of_seq[s["ShardId"]] = nums[:1]
    check(ordered, "sequence numbers strictly increase within each shard")

    # Event shape
    recs, _, _ = read_shard(k, stream, shards[0]["ShardId"], limit=5)
    ev = next(json.loads(r["Data"]) for r in recs if b"OrderID" in r["Data"])
    types = {"OrderID": int, "CustomerID": int, "RestaurantID": int, "RiderID": int, "OrderDate": str,
             "DeliveryTime": int, "OrderValue": float, "DeliveryFee": float, "TipAmount": float, "OrderStatus": str}
    check(set(ev) == set(types) and all(isinstance(ev[kk], t) for kk, t in types.items())
          and ev["OrderStatus"] in ("Delivered", "Cancelled", "Processing", "On the way"),
          "order event has the reference shape and JSON types", json.dumps(ev))

    # Shard assignment: kinesis-local vs MD5(partition key) over the hash ranges
    with tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False) as fh:
        keys = [str(i) for i in range(1, 201)] + ["customer-7", "ä-unicode", "a" * 256]
        fh.write("\n".join(keys) + "\n")
        keys_file = fh.name
    out = subprocess.run([sys.executable, PRODUCER, "--endpoint", env["KINESIS_ENDPOINT"], "--stream", stream,
                          "--shard-check", keys_file], env=penv, capture_output=True, text=True, timeout=300)
    os.unlink(keys_file)
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    mism = [x for x in lines if shard_for(md5_hash_key(x["key"]), shards) != x["shard"]]
    check(out.returncode == 0 and len(lines) == len(keys) and not mism,
          "--shard-check: kinesis-local picks the shard whose HashKeyRange holds int(MD5(key))",
          f"{len(lines)} keys, {len(mism)} mismatches {mism[:3]}")

    # PutRecords batch
    entries = [{"Data": json.dumps({"n": i}).encode(), "PartitionKey": f"batch-{i}"} for i in range(500)]
    resp = k.put_records(StreamName=stream, Records=entries)
    check(resp["FailedRecordCount"] == 0 and len(resp["Records"]) == 500,
          "PutRecords with 500 entries: FailedRecordCount 0", f"keys {sorted(resp.keys())}")
    # Hammer one shard to see whether kinesis-local enforces per-shard write limits
    throttled = 0
    t0 = time.monotonic()
    for _ in range(4):
        r = k.put_records(StreamName=stream, Records=[{"Data": b"x" * 1000, "PartitionKey": "p", "ExplicitHashKey": "0"}] * 500)
        throttled += r["FailedRecordCount"]
        codes = {e.get("ErrorCode") for e in r["Records"] if e.get("ErrorCode")}
    note(f"2000 x 1 KB records to one shard in {time.monotonic() - t0:.2f}s: {throttled} failed "
         f"(ErrorCode {codes or 'none'}) - kinesis-local {'does' if throttled else 'does not'} throttle here")

    # UpdateShardCount 4 -> 8
    note("--- UpdateShardCount 4 -> 8")
    k.update_shard_count(StreamName=stream, TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    st = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
    note(f"status right after UpdateShardCount: {st}")
    summ = wait_active(k, stream)
    after = list_shards(k, stream)
    closed = [s for s in after if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    opened = [s for s in after if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    for s in after:
        note("ListShards: " + json.dumps(s))
    check(summ.get("OpenShardCount") == 8, "DescribeStreamSummary OpenShardCount 8", str(summ.get("OpenShardCount")))
    check(len(opened) == 8, "8 open shards after UpdateShardCount", f"{len(after)} listed in total")
    check({s["ShardId"] for s in closed} == {s["ShardId"] for s in shards},
          "the 4 original shards are closed (EndingSequenceNumber set)", f"{len(closed)} closed")
    check(all(s.get("ParentShardId") for s in opened), "every open child has ParentShardId",
          "; ".join(f"{s['ShardId']}<-{s.get('ParentShardId')}/{s.get('AdjacentParentShardId')}" for s in opened))
    parent = closed[0]["ShardId"] if closed else shards[0]["ShardId"]
    recs, last, calls = read_shard(k, stream, parent)
    check(last is not None and last.get("NextShardIterator") is None,
          f"GetRecords at the end of closed {parent}: NextShardIterator null/absent",
          f"keys {sorted(last.keys()) if last else None}, {len(recs)} records in {calls} calls")
    child = last.get("ChildShards") if last else None
    check(bool(child), "... and ChildShards present", json.dumps(child))
    if last:
        note(f"MillisBehindLatest at end of closed parent: {last.get('MillisBehindLatest')}")
    # writes after the reshard land on children
    r = k.put_record(StreamName=stream, Data=b"after", PartitionKey="after-reshard")
    check(r["ShardId"] in {s["ShardId"] for s in opened}, "PutRecord after reshard lands on an open child", r["ShardId"])
    # ListShards filter / pagination
    resp = k.list_shards(StreamName=stream, MaxResults=3)
    note(f"ListShards MaxResults=3 -> {len(resp['Shards'])} shards, NextToken {'present' if resp.get('NextToken') else 'absent'}")
    try:
        resp = k.list_shards(StreamName=stream, ShardFilter={"Type": "AT_LATEST"})
        note(f"ListShards ShardFilter AT_LATEST -> {len(resp['Shards'])} shards")
    except Exception as exc:  # noqa: BLE001
        note(f"ListShards ShardFilter AT_LATEST -> {type(exc).__name__}: {exc}")
    resp = k.list_streams()
    note(f"ListStreams keys: {sorted(resp.keys())}; StreamSummaries[0]: "
         f"{json.dumps(resp.get('StreamSummaries', [{}])[0], default=str)}")


def moto_flow(env):
    note("--- moto")
    s3 = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="courier-test")
    body = json.dumps({"hello": "world"}).encode()
    s3.put_object(Bucket="courier-test", Key="orders/2024/part-0000.json", Body=body)
    got = s3.get_object(Bucket="courier-test", Key="orders/2024/part-0000.json")["Body"].read()
    check(got == body, "moto S3: create_bucket, put_object, get_object round-trip")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="courier-test").get("Contents", [])]
    check(keys == ["orders/2024/part-0000.json"], "moto S3: list_objects_v2", str(keys))
    # Redshift Data API in moto's server mode
    try:
        rd = boto3.client("redshift-data", endpoint_url=env["MOTO_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        r = rd.execute_statement(ClusterIdentifier="c1", Database="dev", DbUser="u", Sql="select 1")
        d = rd.describe_statement(Id=r["Id"])
        g = rd.get_statement_result(Id=r["Id"])
        note(f"moto redshift-data: ExecuteStatement Id={r['Id']}; DescribeStatement Status={d.get('Status')}; "
             f"GetStatementResult keys {sorted(g.keys())}, {len(g.get('Records', []))} records (moto returns canned data)")
    except Exception as exc:  # noqa: BLE001
        note(f"moto redshift-data: {type(exc).__name__}: {exc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("env_file")
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--stream", default=f"verify-{int(time.time())}")
    args = ap.parse_args()
    env = load_env(args.env_file)
    k = boto3.client("kinesis", endpoint_url=env["KINESIS_ENDPOINT"], region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test",
                     config=Config(retries={"mode": "standard", "max_attempts": 3}))
    wire_probes(env["KINESIS_ENDPOINT"], args.stream)
    kinesis_flow(env, k, args.stream, args.records)
    moto_flow(env)
    print(f"{PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
