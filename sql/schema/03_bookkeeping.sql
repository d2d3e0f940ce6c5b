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

-- Which incarnation of each shard (Kinesis: its starting sequence number;
-- embedded: the stream's creation id) its checkpoint was taken on: a stream
-- deleted and made again under the same name numbers its records anew, and
-- an old checkpoint would skip (or never find) them.
CREATE TABLE IF NOT EXISTS courier_shard_origins (
    StreamName VARCHAR(128),
    ShardId VARCHAR(64),
    Origin VARCHAR(128),
    SeenAt TIMESTAMP,
    PRIMARY KEY (StreamName, ShardId)
);

-- Shard leases, where several courier instances share a stream: which
-- instance reads each shard (Owner, NULL when released), a Counter every
-- renewal, take and release bumps (takes compare-and-set on it), ExpiresAt
-- by the warehouse's clock, Ended once the shard was read to its end (its
-- children may start), and how often it was taken over. A commit of rows
-- and checkpoint checks, in its transaction, that its instance still holds
-- the lease.
CREATE TABLE IF NOT EXISTS courier_leases (
    StreamName VARCHAR(128),
    ShardId VARCHAR(64),
    Owner VARCHAR(128),
    Counter BIGINT,
    ExpiresAt TIMESTAMP,
    Ended BOOLEAN,
    Takeovers BIGINT,
    PRIMARY KEY (StreamName, ShardId)
);

-- OrderID blocks handed to generators where several share one warehouse
-- (the AWS backend): each claim takes the range [FirstID, EndID) above every
-- earlier claim and every OrderID in factOrders, in one transaction.
CREATE TABLE IF NOT EXISTS courier_order_ids (
    Claim VARCHAR(64),
    FirstID BIGINT,
    EndID BIGINT,
    ClaimedAt TIMESTAMP
);

-- Records that could not be loaded, kept with why, whole: Payload is the
-- record's text when it is UTF-8 without NUL (PayloadEncoding 'utf8'), else
-- its base64 ('base64'); PayloadBytes is its length. A redrive that loads
-- the record sets RedrivenAt (the row stays, for audit); one that fails
-- again sets the new Reason. Attempts counts the tries. (It replaces
-- courier_dead_letters, whose rows are moved here at start.)
CREATE TABLE IF NOT EXISTS courier_dlq (
    StreamName VARCHAR(128),
    ShardId VARCHAR(64),
    SequenceNumber VARCHAR(128),
    ArrivalTime TIMESTAMP,
    DeadAt TIMESTAMP,
    Reason VARCHAR(1024),
    PayloadEncoding VARCHAR(8),
    Payload VARCHAR(65535),
    PayloadBytes INT,
    Attempts INT,
    RedrivenAt TIMESTAMP,
    PRIMARY KEY (StreamName, ShardId, SequenceNumber)
);
