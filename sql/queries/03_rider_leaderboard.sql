-- title: Rider leaderboard (delivered orders)
-- refresh: 5s
SELECT TOP 10
       d.RiderName,
       d.RiderVehicleType,
       COUNT(*) AS deliveries,
       APPROXIMATE PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY o.DeliveryTime) AS median_minutes,
       NVL(SUM(o.TipAmount), 0) AS tips,
       d.RiderRating
FROM food_delivery_datamart.factOrders o
JOIN food_delivery_datamart.dimDeliveryRiders d ON d.RiderID = o.RiderID
WHERE o.OrderStatus = 'Delivered'
GROUP BY d.RiderName, d.RiderVehicleType, d.RiderRating
ORDER BY deliveries DESC, tips DESC;
