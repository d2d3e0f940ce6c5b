-- title: Delivery time by cuisine
-- refresh: 10s
SELECT r.CuisineType,
       COUNT(*) AS orders,
       ROUND(AVG(o.DeliveryTime), 1) AS avg_minutes,
       MIN(o.DeliveryTime) AS fastest,
       MAX(o.DeliveryTime) AS slowest
FROM food_delivery_datamart.factOrders o
JOIN food_delivery_datamart.dimRestaurants r ON r.RestaurantID = o.RestaurantID
GROUP BY r.CuisineType
ORDER BY avg_minutes;
