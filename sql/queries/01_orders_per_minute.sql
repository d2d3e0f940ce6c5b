-- title: Orders and revenue per minute (last 30 minutes)
-- refresh: 2s
SELECT TO_CHAR(DATE_TRUNC('minute', o.OrderDate), 'HH24:MI') AS minute,
       COUNT(*) AS orders,
       SUM(o.OrderValue) AS revenue,
       ROUND(AVG(o.OrderValue), 2) AS avg_order_value,
       NVL(SUM(o.TipAmount), 0) AS tips
FROM food_delivery_datamart.factOrders o
WHERE o.OrderDate >= DATEADD(minute, -30, GETDATE())
GROUP BY DATE_TRUNC('minute', o.OrderDate)
ORDER BY DATE_TRUNC('minute', o.OrderDate) DESC;
