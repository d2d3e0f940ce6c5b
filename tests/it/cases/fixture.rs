//! The rows the Redshift function cases run on, and how a result is
//! compared with the answer Redshift documents.

#![allow(dead_code)]

/// The fixture: three customers, three restaurants, two riders, five orders.
pub const DATA: &str = "
INSERT INTO dimCustomers VALUES
  (1, 'Ann Lee', 'ann@example.com', '+1 555 0101', '1 Main St, Springfield', '2024-01-15'),
  (2, 'Bo Kim', NULL, '+1 555 0102', '2 Oak Ave, Shelbyville', '2023-06-30'),
  (3, 'Cy Dee', 'cy@example.com', '+1 555 0103', '3 Elm St, Ogdenville', '2025-12-31');
INSERT INTO dimRestaurants VALUES
  (1, 'Spice House', 'Indian', '10 Curry Ln, Springfield', 4.5),
  (2, 'Pasta Bar', 'Italian', '20 Via Roma, Springfield', 4.0),
  (3, 'Taco Town', 'Mexican', '30 Salsa Rd, Shelbyville', 3.5);
INSERT INTO dimDeliveryRiders VALUES
  (1, 'Raj', '+1 555 0201', 'Bike', 'KA01AB1234', 4.8),
  (2, 'Lu', '+1 555 0202', 'Car', 'KA02CD5678', 4.2);
INSERT INTO factOrders (OrderID, CustomerID, RestaurantID, RiderID, OrderDate, DeliveryTime, OrderValue, DeliveryFee, TipAmount, OrderStatus) VALUES
  (101, 1, 1, 1, '2026-01-31 23:30:00', 30, 50.00, 5.00, 5.00, 'Delivered'),
  (102, 2, 1, 2, '2026-02-01 00:15:00', 45, 20.00, 3.00, NULL, 'Cancelled'),
  (103, 1, 2, 1, '2026-02-14 12:00:00', 20, 35.50, 2.50, 2.00, 'Delivered'),
  (104, 3, 3, 2, '2026-03-01 08:05:09', 60, 80.25, 4.75, 10.00, 'On the way'),
  (105, 2, 2, 1, '2026-03-15 18:45:30', 15, 10.00, 2.00, 0.00, 'Processing');
";

/// Numbers compare as numbers (`25` = `25.0`), everything else as text.
pub fn same(got: &str, want: &str) -> bool {
    match (got.parse::<f64>(), want.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() < 1e-9,
        _ => got == want,
    }
}

pub fn rows_match(rows: &[Vec<Option<String>>], want: &[&str]) -> bool {
    rows.len() == want.len()
        && rows.iter().zip(want).all(|(row, w)| {
            let cells: Vec<&str> = w.split('|').collect();
            // A `|` inside an expected single cell (LISTAGG '|') is part of the value.
            let cells = if row.len() == 1 { vec![*w] } else { cells };
            row.len() == cells.len() && row.iter().zip(cells).all(|(g, w)| same(g.as_deref().unwrap_or(""), w))
        })
}
