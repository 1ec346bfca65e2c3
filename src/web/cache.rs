//! Short-lived in-process caches for the pages the whole city reads at once (availability, a
//! site's day, "is anything published"): an entry lives at most one second, and none outlives
//! a write committed by this process (`Db::generation`), so a resident who just booked sees
//! the seat gone at once. Other processes' writes show within the second.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::models::draw::Draw;
use crate::models::stock::StockBalance;
use crate::models::{Product, Site, Slot, Town};

/// Entries older than this are read again.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// More keys than this and the cache starts over (a crawler walking every day of every site).
const MAX_KEYS: usize = 4096;

/// One cache: values by key, each stamped with when and at which write generation it was read.
pub struct TtlCache<K, V> {
    map: Mutex<HashMap<K, (Instant, u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The value read at `generation` less than [`MAX_AGE`] ago, if any.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        self.get_stamped(key, generation).map(|(_, v)| v)
    }

    /// As [`TtlCache::get`], with when the value was read.
    pub fn get_stamped(&self, key: &K, generation: u64) -> Option<(Instant, V)> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(at, g, _)| *g == generation && at.elapsed() < MAX_AGE)
            .map(|(at, _, v)| (*at, v.clone()))
    }

    /// The cached value, or `load`'s (kept when it succeeds). `generation` must be read before
    /// the load starts, so a write committed meanwhile makes the next reader load again.
    pub async fn get_or_load<E, F>(
        &self,
        key: K,
        generation: u64,
        load: impl FnOnce() -> F,
    ) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(hit) = self.get(&key, generation) {
            return Ok(hit);
        }
        let fresh = load().await?;
        self.put(key, generation, fresh.clone());
        Ok(fresh)
    }

    /// Keep a value read at `generation` (read the generation before reading the value).
    pub fn put(&self, key: K, generation: u64, value: V) {
        self.put_stamped(key, generation, Instant::now(), value);
    }

    /// Keep a value made from data read at `at` (it expires [`MAX_AGE`] after `at`).
    pub fn put_stamped(&self, key: K, generation: u64, at: Instant, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_KEYS {
                map.clear();
            }
            map.insert(key, (at, generation, value));
        }
    }
}

/// A site's slots for one day, the draws they open with, and the site's stock balances (a
/// first-dose seat is offered only while a dose of its vaccine is unpromised).
pub type DaySlots = Arc<(Vec<Slot>, Vec<Draw>, Vec<StockBalance>)>;

/// A site, its town, the vaccines and the town's sites: what every page of a site reads.
pub type SiteContext = Arc<(Site, Town, Vec<Product>, Vec<Site>)>;

/// A response body made once from cached data and served as is until that data expires: the
/// bytes, their `ETag`, and the instant a draw among them comes due (it must then be run and
/// the body made again).
pub struct Rendered {
    pub body: actix_web::web::Bytes,
    pub etag: actix_web::http::header::HeaderValue,
    pub due_at: Option<NaiveDateTime>,
}

/// The active towns and sites: the home page.
pub type TownList = Arc<(Vec<Town>, Vec<Site>)>;

/// A town, its sites, each site's next slot with a free first-dose seat and a dose to promise,
/// the length of the town's waiting list, and the sites without a dose left to promise: the town
/// page.
pub type TownContext = Arc<crate::views::resident::TownRead>;

/// The caches the application keeps.
#[derive(Default)]
pub struct Caches {
    /// `(site, day start, day end)` -> the slots, draws and stock the availability API and the
    /// day page show (`web::draw::slots_and_draws`).
    pub slots: TtlCache<(i64, NaiveDateTime, NaiveDateTime), DaySlots>,
    /// `(site, day)` -> the availability API's JSON, made from a `slots` entry and expiring
    /// with it (`web::api::availability`): most requests then cost no serialising or hashing.
    pub availability: TtlCache<(i64, chrono::NaiveDate), Arc<Rendered>>,
    /// site id -> its [`SiteContext`].
    pub site: TtlCache<i64, SiteContext>,
    /// Whether any site has a future slot (the "not set up yet" page).
    pub published: TtlCache<(), bool>,
    /// site id -> when its first future slot with a free seat starts (where its day page opens
    /// when no day is asked for: `web::moving::first_free_day`).
    pub first_free: TtlCache<i64, Option<NaiveDateTime>>,
    /// A database read that answered less than a second ago (`/healthz`): a load balancer probing
    /// many times a second costs one read a second. A failed read is never kept.
    pub health: TtlCache<(), ()>,
    /// The home page's towns and sites.
    pub towns: TtlCache<(), TownList>,
    /// town id -> its [`TownContext`].
    pub town: TtlCache<i64, TownContext>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_only_at_its_generation_and_for_a_second() {
        let c: TtlCache<u8, u32> = TtlCache::default();
        c.put(1, 7, 42);
        assert_eq!(c.get(&1, 7), Some(42));
        assert_eq!(c.get(&1, 8), None, "a later write invalidates it");
        assert_eq!(c.get(&2, 7), None);
        std::thread::sleep(MAX_AGE + Duration::from_millis(20));
        assert_eq!(c.get(&1, 7), None, "at most one second stale");
    }
}
