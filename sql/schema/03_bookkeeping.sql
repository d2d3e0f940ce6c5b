-- courier's own tables: per-shard checkpoints (written in the same
-- transaction as the rows they cover), the dead-letter table for records
-- that could not be loaded, and the staging table micro-batches pass through.
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

CREATE TABLE IF NOT EXISTS courier_fact_staging (
    OrderID BIGINT,
    CustomerID INT,
    RestaurantID INT,
    RiderID INT,
    OrderDate VARCHAR(32),
    DeliveryTime INT,
    OrderValue DOUBLE PRECISION,
    DeliveryFee DOUBLE PRECISION,
    TipAmount DOUBLE PRECISION,
    OrderStatus VARCHAR(50),
    ShardId VARCHAR(64),
    SequenceNumber VARCHAR(128),
    ArrivalMs BIGINT,
    IngestMs BIGINT,
    EmittedMs BIGINT
);
