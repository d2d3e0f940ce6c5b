#!/usr/bin/env node
// KPL-aggregated Kinesis records made with awslabs' aws-kinesis-agg (the
// version scripts/emulators.sh pins), for courier's tests.
//
//   scripts/emulators.sh kpl-aggregate < groups.json
//
// stdin: a JSON array of groups, each an array of user records
// {"partition_key": "...", "data_base64": "..."}; every group becomes one
// aggregated record (its user records in order). stdout: one JSON line per
// group, {"partition_key": "...", "data_base64": "...", "user_records": N}.
'use strict';
const fs = require('fs');
const agg = require('aws-kinesis-agg');

const groups = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const group of groups) {
  const aggregator = new agg.RecordAggregator();
  for (const r of group) {
    // Throws when the group does not fit one Kinesis record.
    aggregator.addUserRecord({ partitionKey: r.partition_key, data: Buffer.from(r.data_base64, 'base64') });
  }
  const encoded = aggregator.build();
  process.stdout.write(JSON.stringify({
    partition_key: encoded.partitionKey,
    data_base64: encoded.data.toString('base64'),
    user_records: group.length,
  }) + '\n');
}
