#!/usr/bin/env python3
"""Order-event producer for courier's AWS integration tests (boto3, one PutRecord per event).

It writes food-delivery order events to a Kinesis stream the way a reference
Python generator does: a boto3 Kinesis client, one ``put_record`` call per
event, ``Data`` = the event as JSON, ``PartitionKey`` = ``str(OrderID)``.

Event shape (keys and JSON types)::

    {"OrderID": int, "CustomerID": int, "RestaurantID": int, "RiderID": int,
     "OrderDate": "YYYY-MM-DDTHH:MM:SS.ffffff" (isoformat), "DeliveryTime": int (minutes),
     "OrderValue": float, "DeliveryFee": float, "TipAmount": float,
     "OrderStatus": "Delivered" | "Cancelled" | "Processing" | "On the way"}

Usage (endpoint from --endpoint or $KINESIS_ENDPOINT; credentials only from
the environment, e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test)::

    boto3_producer.py --endpoint URL --stream NAME --count N [--first-order-id 1]
                      [--customers 200 --restaurants 50 --riders 30] [--seed S] [--rate R]
    boto3_producer.py --endpoint URL --stream NAME --seconds S ...
    boto3_producer.py --endpoint URL --stream NAME --shard-check KEYS_FILE
    boto3_producer.py --endpoint URL create-stream NAME SHARDS
    boto3_producer.py --endpoint URL update-shard-count NAME N
    boto3_producer.py --endpoint URL list-shards NAME
    boto3_producer.py --endpoint URL read NAME [--limit N]

Producing ends with one JSON line on stdout:
    {"sent": N, "seconds": S, "rate": R, "order_ids": [first, last]}
--shard-check prints one line per key: {"key": k, "shard": ShardId}.

Only loopback endpoints (127.0.0.0/8, localhost, ::1) are accepted unless
--allow-non-loopback is given.
"""

import argparse
import ipaddress
import json
import os
import random
import sys
import time
from datetime import datetime
from urllib.parse import urlparse

REGION = "us-east-1"
ORDER_STATUSES = ["Delivered", "Cancelled", "Processing", "On the way"]


def fail(msg, code=2):
    print(f"boto3_producer: error: {msg}", file=sys.stderr)
    sys.exit(code)


def check_endpoint(url, allow_non_loopback):
    if not url:
        fail("no endpoint: pass --endpoint URL or set KINESIS_ENDPOINT")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        fail(f"endpoint {url!r} is not an http(s) URL")
    if allow_non_loopback:
        return
    host = parsed.hostname
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    fail(f"endpoint host {host!r} is not loopback; pass --allow-non-loopback to override")


def kinesis_client(args):
    import boto3
    from botocore.config import Config

    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (fake values such as 'test' for emulators)")
    check_endpoint(args.endpoint, args.allow_non_loopback)
    return boto3.client(
        "kinesis",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        verify=False if args.endpoint.startswith("https://") else None,
        config=Config(
            retries={"mode": "standard", "max_attempts": 10},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def make_order(order_id, rng, args):
    """One order event, shaped like the reference generator's."""
    return {
        "OrderID": order_id,
        "CustomerID": rng.randint(1, args.customers),
        "RestaurantID": rng.randint(1, args.restaurants),
        "RiderID": rng.randint(1, args.riders),
        "OrderDate": datetime.now().isoformat(),
        "DeliveryTime": rng.randint(15, 60),
        "OrderValue": round(rng.uniform(10.0, 100.0), 2),
        "DeliveryFee": round(rng.uniform(2.0, 10.0), 2),
        "TipAmount": round(rng.uniform(0.0, 20.0), 2),
        "OrderStatus": rng.choice(ORDER_STATUSES),
    }


def produce(args):
    if not args.stream:
        fail("--stream NAME is required")
    if args.count is None and args.seconds is None:
        fail("give --count N and/or --seconds S")
    for name in ("customers", "restaurants", "riders"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be >= 1")
    client = kinesis_client(args)
    rng = random.Random(args.seed)
    interval = 1.0 / args.rate if args.rate and args.rate > 0 else 0.0

    sent = 0
    order_id = args.first_order_id
    first_id = last_id = None
    start = time.monotonic()
    deadline = start + args.seconds if args.seconds is not None else None
    while True:
        if args.count is not None and sent >= args.count:
            break
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if interval:
            due = start + sent * interval
            if due > now:
                time.sleep(due - now)
        order = make_order(order_id, rng, args)
        if args.nanos_every and sent % args.nanos_every == args.nanos_every - 1:
            # A producer stamping its events with time.time_ns(): poison.
            order["EmittedAt"] = time.time_ns()
        client.put_record(
            StreamName=args.stream,
            Data=json.dumps(order),
            PartitionKey=str(order["OrderID"]),
        )
        if first_id is None:
            first_id = order_id
        last_id = order_id
        sent += 1
        order_id += 1
    seconds = time.monotonic() - start
    rate = sent / seconds if seconds > 0 else 0.0
    print(
        json.dumps(
            {
                "sent": sent,
                "seconds": round(seconds, 3),
                "rate": round(rate, 1),
                "order_ids": [first_id, last_id],
            }
        ),
        flush=True,
    )


def shard_check(args):
    if not args.stream:
        fail("--stream NAME is required")
    try:
        with open(args.shard_check, encoding="utf-8") as fh:
            keys = [line.rstrip("\r\n") for line in fh]
    except OSError as exc:
        fail(f"cannot read {args.shard_check}: {exc}")
    keys = [k for k in keys if k != ""]
    client = kinesis_client(args)
    for key in keys:
        resp = client.put_record(StreamName=args.stream, Data=b"x", PartitionKey=key)
        print(json.dumps({"key": key, "shard": resp["ShardId"]}), flush=True)


def stream_summary(client, name):
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def wait_active(client, name, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            summary = stream_summary(client, name)
            if summary["StreamStatus"] == "ACTIVE":
                return summary
        except client.exceptions.ResourceNotFoundException:
            pass
        if time.monotonic() >= deadline:
            fail(f"stream {name} not ACTIVE after {timeout}s", code=1)
        time.sleep(0.05)


def list_all_shards(client, name):
    shards, token = [], None
    while True:
        resp = client.list_shards(NextToken=token) if token else client.list_shards(StreamName=name)
        shards.extend(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            return shards


def open_shards(shards):
    return [s for s in shards if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]


def cmd_create_stream(args):
    client = kinesis_client(args)
    start = time.monotonic()
    try:
        client.create_stream(StreamName=args.name, ShardCount=args.shards)
    except client.exceptions.ResourceInUseException:
        if not args.exist_ok:
            raise
    summary = wait_active(client, args.name, args.timeout)
    print(
        json.dumps(
            {
                "stream": args.name,
                "status": summary["StreamStatus"],
                "open_shards": summary.get("OpenShardCount"),
                "arn": summary.get("StreamARN"),
                "seconds": round(time.monotonic() - start, 3),
            }
        ),
        flush=True,
    )


def cmd_update_shard_count(args):
    client = kinesis_client(args)
    start = time.monotonic()
    wait_active(client, args.name, args.timeout)
    client.update_shard_count(
        StreamName=args.name, TargetShardCount=args.count, ScalingType="UNIFORM_SCALING"
    )
    summary = wait_active(client, args.name, args.timeout)
    shards = list_all_shards(client, args.name)
    print(
        json.dumps(
            {
                "stream": args.name,
                "status": summary["StreamStatus"],
                "open_shards": len(open_shards(shards)),
                "total_shards": len(shards),
                "seconds": round(time.monotonic() - start, 3),
            }
        ),
        flush=True,
    )


def cmd_list_shards(args):
    client = kinesis_client(args)
    for shard in list_all_shards(client, args.name):
        print(json.dumps(shard), flush=True)


def cmd_read(args):
    """Reads every shard from TRIM_HORIZON to its current end; prints a summary line."""
    client = kinesis_client(args)
    total, per_shard, order_ids = 0, {}, []
    for shard in list_all_shards(client, args.name):
        sid = shard["ShardId"]
        it = client.get_shard_iterator(
            StreamName=args.name, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        count = 0
        for _ in range(100000):  # bounded
            resp = client.get_records(ShardIterator=it, Limit=10000)
            for rec in resp["Records"]:
                count += 1
                if args.limit is None or total + count <= args.limit:
                    try:
                        order_ids.append(json.loads(rec["Data"])["OrderID"])
                    except (ValueError, KeyError, TypeError):
                        pass
            it = resp.get("NextShardIterator")
            if not it or (not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0):
                break
        per_shard[sid] = count
        total += count
    ids = sorted(order_ids)
    print(
        json.dumps(
            {
                "records": total,
                "per_shard": per_shard,
                "distinct_order_ids": len(set(ids)),
                "order_ids": [ids[0], ids[-1]] if ids else [None, None],
            }
        ),
        flush=True,
    )


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=argparse.SUPPRESS, help="Kinesis endpoint URL (default $KINESIS_ENDPOINT)")
    common.add_argument("--region", default=argparse.SUPPRESS, help=f"region (default {REGION})")
    common.add_argument("--allow-non-loopback", action="store_true", default=argparse.SUPPRESS)

    p = argparse.ArgumentParser(
        description="boto3 order-event producer (one put_record per event)",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Usage", 1)[1] if "Usage" in __doc__ else None,
    )
    p.add_argument("--stream", help="stream name")
    p.add_argument("--count", type=int, help="number of events to send")
    p.add_argument("--seconds", type=float, help="send for this many seconds (with --count: whichever ends first)")
    p.add_argument("--first-order-id", type=int, default=1)
    p.add_argument("--customers", type=int, default=200, help="CustomerID range 1..N")
    p.add_argument("--restaurants", type=int, default=50, help="RestaurantID range 1..N")
    p.add_argument("--riders", type=int, default=30, help="RiderID range 1..N")
    p.add_argument("--seed", type=int, default=None, help="random seed for reproducible events")
    p.add_argument("--rate", type=float, default=0.0, help="max events per second (0 = as fast as possible)")
    p.add_argument("--nanos-every", type=int, default=0, metavar="N",
                   help="every Nth event gets EmittedAt = time.time_ns() (nanoseconds: poison for the ingester)")
    p.add_argument("--shard-check", metavar="KEYS_FILE", help="put one small record per partition key and print its shard")

    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("create-stream", parents=[common], help="create a stream and wait until ACTIVE")
    c.add_argument("name")
    c.add_argument("shards", type=int)
    c.add_argument("--exist-ok", action="store_true")
    c.add_argument("--timeout", type=float, default=30.0)
    u = sub.add_parser("update-shard-count", parents=[common], help="UpdateShardCount (UNIFORM_SCALING) and wait until ACTIVE")
    u.add_argument("name")
    u.add_argument("count", type=int)
    u.add_argument("--timeout", type=float, default=30.0)
    ls = sub.add_parser("list-shards", parents=[common], help="print ListShards entries as JSON lines")
    ls.add_argument("name")
    r = sub.add_parser("read", parents=[common], help="read all records back (TRIM_HORIZON) and summarise")
    r.add_argument("name")
    r.add_argument("--limit", type=int, default=None)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not hasattr(args, "endpoint"):
        args.endpoint = os.environ.get("KINESIS_ENDPOINT")
    if not hasattr(args, "region"):
        args.region = REGION
    if not hasattr(args, "allow_non_loopback"):
        args.allow_non_loopback = False
    if args.endpoint and args.endpoint.startswith("https://"):
        import urllib3

        urllib3.disable_warnings()
    try:
        if args.cmd == "create-stream":
            cmd_create_stream(args)
        elif args.cmd == "update-shard-count":
            cmd_update_shard_count(args)
        elif args.cmd == "list-shards":
            cmd_list_shards(args)
        elif args.cmd == "read":
            cmd_read(args)
        elif args.shard_check:
            shard_check(args)
        else:
            produce(args)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # botocore errors: one readable line, non-zero exit
        resp = getattr(exc, "response", None)
        code = resp.get("Error", {}).get("Code") if isinstance(resp, dict) else None
        fail(f"{code or type(exc).__name__}: {exc}", code=1)


if __name__ == "__main__":
    main()
