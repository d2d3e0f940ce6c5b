-- title: Orders and revenue per minute
-- refresh: 2s
SELECT DATE_TRUNC('minute', o.OrderDate) AS order_minute,
       COUNT(*) AS orders,
       SUM(o.OrderValue) AS revenue,
       ROUND(AVG(o.OrderValue), 2) AS avg_order_value,
       SUM(o.TipAmount) AS tips
FROM food_delivery_datamart.factOrders o
GROUP BY 1
ORDER BY 1 DESC
LIMIT 15;
