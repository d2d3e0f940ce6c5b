//! Dimension tables: generating realistic CSVs in the reference format,
//! uploading them to the object store, loading them with COPY, and keeping
//! each table's load state. Also the ID lists the generator draws from.

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::state::{Counters, Shared};
use crate::backend::{ObjectStore, ObjectStoreError, ObjectUri, TableName, Warehouse, WarehouseError};

/// Why a dimension table was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum DimensionError {
    #[error("no dimension table named {0}")]
    NoSuchTable(String),
    #[error("{0}")]
    Load(WarehouseError),
}
use crate::engine::snapshot::LoadState;

/// The reference pipeline's dimension tables and their CSV headers.
pub const TABLES: [(&str, &str); 3] = [
    (
        "dimCustomers",
        "CustomerID,CustomerName,CustomerEmail,CustomerPhone,CustomerAddress,RegistrationDate",
    ),
    (
        "dimRestaurants",
        "RestaurantID,RestaurantName,CuisineType,RestaurantAddress,RestaurantRating",
    ),
    (
        "dimDeliveryRiders",
        "RiderID,RiderName,RiderPhone,RiderVehicleType,VehicleID,RiderRating",
    ),
];

const FIRST: [&str; 24] = [
    "Aarav", "Priya", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Arjun", "Ananya", "Lucas", "Mia", "Kenji",
    "Yuki", "Omar", "Layla", "Ethan", "Ava", "Diego", "Isabella", "Ravi", "Meera", "Jonas", "Clara",
];
const LAST: [&str; 20] = [
    "Sharma", "Patel", "Smith", "Johnson", "Garcia", "Martinez", "Tanaka", "Khan", "Nguyen", "Müller", "Rossi",
    "O'Brien", "Kim", "Singh", "Lopez", "Brown", "Silva", "Cohen", "Dubois", "Ivanova",
];
const STREETS: [&str; 16] = [
    "MG Road",
    "Main Street",
    "Park Avenue",
    "Church Street",
    "Brigade Road",
    "Lake View Road",
    "Station Road",
    "Hill Street",
    "Market Lane",
    "Residency Road",
    "Oak Avenue",
    "Elm Street",
    "Rose Garden Road",
    "Canal Street",
    "High Street",
    "King's Road",
];
const CITIES: [&str; 10] = [
    "Bengaluru",
    "Mumbai",
    "Delhi",
    "Pune",
    "Hyderabad",
    "Chennai",
    "Kolkata",
    "Jaipur",
    "Ahmedabad",
    "Kochi",
];
const CUISINES: [&str; 12] = [
    "Indian",
    "Chinese",
    "Italian",
    "Mexican",
    "Japanese",
    "Thai",
    "American",
    "Mediterranean",
    "Korean",
    "Lebanese",
    "Vegan",
    "French",
];
const NOUNS: [&str; 12] = [
    "Kitchen", "Bistro", "House", "Grill", "Diner", "Cafe", "Express", "Table", "Corner", "Garden", "Spice", "Bowl",
];
const VEHICLES: [&str; 4] = ["Bike", "Scooter", "Bicycle", "Car"];

fn address(rng: &mut SmallRng) -> String {
    format!(
        "{} {}, {}, {} {}",
        rng.random_range(1..400),
        STREETS[rng.random_range(0..STREETS.len())],
        CITIES[rng.random_range(0..CITIES.len())],
        ["KA", "MH", "DL", "TN", "TS", "WB", "RJ", "GJ", "KL"][rng.random_range(0..9)],
        rng.random_range(100_000..999_999)
    )
}

fn person(rng: &mut SmallRng) -> (String, String) {
    let (f, l) = (
        FIRST[rng.random_range(0..FIRST.len())],
        LAST[rng.random_range(0..LAST.len())],
    );
    (f.to_string(), l.to_string())
}

fn phone(rng: &mut SmallRng) -> String {
    format!(
        "+91 {} {}",
        rng.random_range(70_000..99_999),
        rng.random_range(10_000..99_999)
    )
}

/// Generate `rows` rows of `table` as RFC-4180 CSV with a header row; fields
/// with commas or quotes (addresses, names like O'Brien are fine) are quoted.
pub fn generate_csv(table: &str, rows: u32, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed ^ table.len() as u64 ^ (table.as_bytes()[3] as u64) << 32);
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let header = TABLES.iter().find(|(t, _)| *t == table).map_or("", |(_, h)| h);
    w.write_record(header.split(',')).expect("writing to memory");
    for id in 1..=rows {
        let id_s = id.to_string();
        let record: Vec<String> = match table {
            "dimCustomers" => {
                let (f, l) = person(&mut rng);
                let local = |s: &str| {
                    s.to_lowercase()
                        .chars()
                        .filter(char::is_ascii_alphabetic)
                        .collect::<String>()
                };
                let email = format!("{}.{}{}@example.com", local(&f), local(&l), id);
                let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("a valid date")
                    + chrono::Days::new(rng.random_range(0..2000));
                vec![
                    id_s,
                    format!("{f} {l}"),
                    email,
                    phone(&mut rng),
                    address(&mut rng),
                    day.to_string(),
                ]
            }
            "dimRestaurants" => {
                let cuisine = CUISINES[rng.random_range(0..CUISINES.len())];
                let name = format!(
                    "{} {}",
                    LAST[rng.random_range(0..LAST.len())],
                    NOUNS[rng.random_range(0..NOUNS.len())]
                );
                let rating = format!("{:.1}", rng.random_range(30..=50) as f64 / 10.0);
                vec![id_s, name, cuisine.into(), address(&mut rng), rating]
            }
            _ => {
                let (f, l) = person(&mut rng);
                let vehicle = VEHICLES[rng.random_range(0..VEHICLES.len())];
                let plate = format!(
                    "KA{:02}{}{:04}",
                    rng.random_range(1..60),
                    ["AB", "CD", "EF", "MX"][rng.random_range(0..4)],
                    rng.random_range(1..9999)
                );
                let rating = format!("{:.1}", rng.random_range(35..=50) as f64 / 10.0);
                vec![id_s, format!("{f} {l}"), phone(&mut rng), vehicle.into(), plate, rating]
            }
        };
        w.write_record(&record).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// Loads dimension tables and tracks their state in the snapshot.
pub struct DimensionLoader {
    pub shared: Arc<Shared>,
    pub objects: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
    pub tables: Vec<(TableName, ObjectUri)>,
}

impl DimensionLoader {
    /// Upload generated CSVs for tables whose object is missing (or all, if `regenerate`).
    pub async fn ensure_sources(&self, sizes: [u32; 3], seed: u64, regenerate: bool) -> Result<(), ObjectStoreError> {
        for ((table, uri), rows) in self.tables.iter().zip(sizes) {
            let missing = matches!(self.objects.get(uri).await, Err(ObjectStoreError::NotFound(_)));
            if missing || regenerate {
                self.objects
                    .put(uri, generate_csv(table.table.as_str(), rows, seed))
                    .await?;
                tracing::info!(%uri, rows, "uploaded generated dimension CSV");
            }
        }
        Ok(())
    }

    /// Load one table (by name, case-insensitive); the result goes to the snapshot.
    pub async fn load(&self, name: &str) -> Result<u64, DimensionError> {
        let Some((table, uri)) = self
            .tables
            .iter()
            .find(|(t, _)| t.table.as_str().eq_ignore_ascii_case(name))
        else {
            return Err(DimensionError::NoSuchTable(name.to_string()));
        };
        let started = Instant::now();
        self.shared.set_dimension(
            table.table.as_str(),
            LoadState::Loading {
                elapsed: Default::default(),
            },
            Some(started),
        );
        let result = self.warehouse.copy_replace(table, uri).await;
        if result.is_ok() {
            Counters::add(&self.shared.counters().dimension_loads, 1);
        }
        let state = match &result {
            Ok(rows) => LoadState::Loaded {
                rows: *rows,
                took: started.elapsed(),
                at: chrono::Utc::now(),
            },
            Err(e) => LoadState::Failed {
                reason: e.to_string(),
                at: chrono::Utc::now(),
            },
        };
        self.shared.set_dimension(table.table.as_str(), state, None);
        match result {
            Ok(rows) => {
                tracing::info!(table = %table, rows, took_ms = started.elapsed().as_millis() as u64, "dimension loaded");
                Ok(rows)
            }
            Err(e) => {
                self.shared
                    .error("dimensions", format!("loading {table} from {uri}: {e}"));
                Err(DimensionError::Load(e))
            }
        }
    }

    pub async fn load_all(&self) -> bool {
        let mut ok = true;
        for (table, _) in &self.tables {
            ok &= self.load(table.table.as_str()).await.is_ok();
        }
        ok
    }

    /// The IDs present in each dimension table, for the generator.
    pub async fn ids(&self) -> Result<DimensionIds, WarehouseError> {
        let mut lists = Vec::new();
        for ((table, _), col) in self.tables.iter().zip(["CustomerID", "RestaurantID", "RiderID"]) {
            let rs = self
                .warehouse
                .query(&format!("SELECT {col} FROM {table} ORDER BY 1"))
                .await?;
            lists.push(
                rs.rows
                    .iter()
                    .filter_map(|r| r[0].as_deref()?.parse().ok())
                    .collect::<Vec<i32>>(),
            );
        }
        let riders = lists.pop().unwrap_or_default();
        let restaurants = lists.pop().unwrap_or_default();
        let customers = lists.pop().unwrap_or_default();
        Ok(DimensionIds {
            customers,
            restaurants,
            riders,
        })
    }
}

/// IDs the generator draws orders from.
#[derive(Debug, Clone, Default)]
pub struct DimensionIds {
    pub customers: Vec<i32>,
    pub restaurants: Vec<i32>,
    pub riders: Vec<i32>,
}

impl DimensionIds {
    pub fn is_usable(&self) -> bool {
        !self.customers.is_empty() && !self.restaurants.is_empty() && !self.riders.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_csv_is_rfc4180_with_quoted_addresses() {
        let csv = String::from_utf8(generate_csv("dimCustomers", 20, 1)).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next().unwrap(), TABLES[0].1);
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<_> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 20);
        assert!(rows.iter().all(|r| r.len() == 6 && r[4].contains(", ")));
        assert!(csv.contains(",\""), "addresses with commas are quoted");
        assert_eq!(generate_csv("dimCustomers", 20, 1), generate_csv("dimCustomers", 20, 1));
        for (t, h) in TABLES {
            let text = String::from_utf8(generate_csv(t, 5, 9)).unwrap();
            assert!(text.starts_with(h));
            assert_eq!(text.lines().count(), 6);
        }
    }
}
