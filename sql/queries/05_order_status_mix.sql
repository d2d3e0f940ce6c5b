-- title: Order status mix
-- refresh: 3s
SELECT o.OrderStatus,
       COUNT(*) AS orders,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 1) AS pct
FROM food_delivery_datamart.factOrders o
GROUP BY o.OrderStatus
ORDER BY orders DESC;
