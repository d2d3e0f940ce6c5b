-- title: Order status mix
-- refresh: 3s
SELECT o.OrderStatus,
       COUNT(*) AS orders,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 1) AS pct,
       SUM(CASE WHEN o.OrderDate < DATEADD(hour, -1, GETDATE()) THEN 1 ELSE 0 END) AS late_events
FROM food_delivery_datamart.factOrders o
GROUP BY o.OrderStatus
ORDER BY DECODE(o.OrderStatus, 'Processing', 1, 'On the way', 2, 'Delivered', 3, 4);
