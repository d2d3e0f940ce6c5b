-- Dimension tables, as in the reference pipeline (Redshift DDL).
-- Run with search_path set to the datamart schema (food_delivery_datamart).
CREATE TABLE IF NOT EXISTS dimCustomers (
    CustomerID INT PRIMARY KEY,
    CustomerName VARCHAR(255),
    CustomerEmail VARCHAR(255),
    CustomerPhone VARCHAR(50),
    CustomerAddress VARCHAR(500),
    RegistrationDate DATE
);

CREATE TABLE IF NOT EXISTS dimRestaurants (
    RestaurantID INT PRIMARY KEY,
    RestaurantName VARCHAR(255),
    CuisineType VARCHAR(100),
    RestaurantAddress VARCHAR(500),
    RestaurantRating DECIMAL(3,1)
);

CREATE TABLE IF NOT EXISTS dimDeliveryRiders (
    RiderID INT PRIMARY KEY,
    RiderName VARCHAR(255),
    RiderPhone VARCHAR(50),
    RiderVehicleType VARCHAR(50),
    VehicleID VARCHAR(50),
    RiderRating DECIMAL(3,1)
);
