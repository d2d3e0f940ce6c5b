-- title: Dead letters (latest 50)
-- refresh: 5s
SELECT TOP 50
       ArrivalTime,
       DATEDIFF(second, ArrivalTime, GETDATE()) AS age_s,
       ShardId,
       SequenceNumber,
       Reason,
       SUBSTRING(Payload, 1, 80) AS payload_start
FROM food_delivery_datamart.courier_dead_letters
ORDER BY ArrivalTime DESC;
