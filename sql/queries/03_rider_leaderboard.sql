-- title: Rider leaderboard (delivered orders)
-- refresh: 5s
SELECT d.RiderName,
       d.RiderVehicleType,
       COUNT(*) AS deliveries,
       ROUND(AVG(o.DeliveryTime), 1) AS avg_delivery_minutes,
       SUM(o.TipAmount) AS tips,
       d.RiderRating
FROM food_delivery_datamart.factOrders o
JOIN food_delivery_datamart.dimDeliveryRiders d ON d.RiderID = o.RiderID
WHERE o.OrderStatus = 'Delivered'
GROUP BY d.RiderName, d.RiderVehicleType, d.RiderRating
ORDER BY deliveries DESC, tips DESC
LIMIT 10;
