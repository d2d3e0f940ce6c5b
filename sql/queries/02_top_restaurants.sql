-- title: Top restaurants by revenue
-- refresh: 5s
SELECT TOP 10
       r.RestaurantName,
       r.CuisineType,
       r.RestaurantRating,
       COUNT(*) AS orders,
       SUM(o.OrderValue) AS revenue,
       APPROXIMATE COUNT(DISTINCT o.CustomerID) AS customers
FROM food_delivery_datamart.factOrders o
JOIN food_delivery_datamart.dimRestaurants r ON r.RestaurantID = o.RestaurantID
WHERE o.OrderStatus <> 'Cancelled'
GROUP BY r.RestaurantName, r.CuisineType, r.RestaurantRating
ORDER BY revenue DESC;
