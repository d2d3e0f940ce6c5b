-- title: Delivery time by cuisine
-- refresh: 10s
SELECT r.CuisineType,
       COUNT(*) AS orders,
       ROUND(AVG(o.DeliveryTime), 1) AS avg_minutes,
       APPROXIMATE PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY o.DeliveryTime) AS median_minutes,
       APPROXIMATE PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY o.DeliveryTime) AS p90_minutes,
       LISTAGG(DISTINCT r.RestaurantName, ', ') WITHIN GROUP (ORDER BY r.RestaurantName) AS restaurants
FROM food_delivery_datamart.factOrders o
JOIN food_delivery_datamart.dimRestaurants r ON r.RestaurantID = o.RestaurantID
GROUP BY r.CuisineType
ORDER BY avg_minutes;
