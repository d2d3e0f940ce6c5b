-- title: Dead letters (latest 50 not redriven)
-- refresh: 5s
SELECT TOP 50
       ArrivalTime,
       DATEDIFF(second, ArrivalTime, GETDATE()) AS age_s,
       ShardId,
       SequenceNumber,
       Reason,
       CASE WHEN PayloadEncoding = 'base64' THEN '(base64) ' ELSE '' END || SUBSTRING(Payload, 1, 80) AS payload_start
FROM food_delivery_datamart.courier_dlq
WHERE RedrivenAt IS NULL
ORDER BY ArrivalTime DESC;
