-- The fact table. OrderID is widened to BIGINT; the last five columns are
-- courier's bookkeeping: where the row came from and when.
CREATE TABLE IF NOT EXISTS factOrders (
    OrderID BIGINT PRIMARY KEY,
    CustomerID INT,
    RestaurantID INT,
    RiderID INT,
    OrderDate TIMESTAMP,
    DeliveryTime INT,
    OrderValue DECIMAL(8,2),
    DeliveryFee DECIMAL(8,2),
    TipAmount DECIMAL(8,2),
    OrderStatus VARCHAR(50),
    ShardId VARCHAR(64),
    SequenceNumber VARCHAR(128),
    ArrivalTime TIMESTAMP,
    IngestTime TIMESTAMP,
    EmittedAt TIMESTAMP
);
