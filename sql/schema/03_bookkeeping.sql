-- courier's own tables: per-shard checkpoints (written in the same
-- transaction as the rows they cover), the dead-letter table for records
-- that could not be loaded. (The embedded warehouse stages micro-batches in
-- a connection-local TEMP table, so staged rows never reach the log.)
CREATE TABLE IF NOT EXISTS courier_checkpoints (
    StreamName VARCHAR(128),
    ShardId VARCHAR(64),
    SequenceNumber VARCHAR(128),
    UpdatedAt TIMESTAMP,
    PRIMARY KEY (StreamName, ShardId)
);

CREATE TABLE IF NOT EXISTS courier_dead_letters (
    ShardId VARCHAR(64),
    SequenceNumber VARCHAR(128),
    ArrivalTime TIMESTAMP,
    Reason VARCHAR(1024),
    Payload VARCHAR(65535),
    PRIMARY KEY (ShardId, SequenceNumber)
);
