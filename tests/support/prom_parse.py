#!/usr/bin/env python3
"""Parse Prometheus text exposition from stdin with Prometheus's own Python
client parser and print the families as JSON: {name: {"type": t, "samples":
[[sample_name, labels, value], ...]}}. Exits 1 with the parser's error on
malformed input."""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

try:
    families = {}
    for fam in text_string_to_metric_families(sys.stdin.read()):
        families[fam.name] = {
            "type": fam.type,
            "samples": [
                [s.name, s.labels, None if math.isinf(s.value) or math.isnan(s.value) else s.value]
                for s in fam.samples
            ],
        }
except Exception as e:  # the parser raises ValueError and friends
    print(f"prom_parse: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(families))
