//! The service catalog, cached in memory, refreshed periodically and on demand, priced with markup.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use tokio::sync::Mutex;

use crate::money::{self, Naira};
use crate::panel::{self, Client, Service, ServiceFilter};

/// How long a fetched catalog is served before it is fetched again.
pub const CATALOG_TTL: Duration = Duration::from_secs(600);

/// One fetched catalog with the indexes the keyboards need.
#[derive(Debug)]
pub struct Snapshot {
    /// Changes whenever the category list changes, so stale category buttons are detected.
    pub version: u32,
    /// Category names, sorted.
    pub categories: Vec<String>,
    /// All services, in the API's order.
    pub services: Vec<Service>,
    by_id: HashMap<u64, usize>,
    by_category: HashMap<String, Vec<usize>>,
    markup_percent: Decimal,
}

impl Snapshot {
    /// Indexes a list of services.
    pub fn new(services: Vec<Service>, markup_percent: Decimal) -> Snapshot {
        let mut by_id = HashMap::with_capacity(services.len());
        let mut by_category: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            by_id.insert(s.id, i);
            by_category.entry(s.category.clone()).or_default().push(i);
        }
        let mut categories: Vec<String> = by_category.keys().cloned().collect();
        categories.sort_by_key(|c| c.to_lowercase());
        // FNV-1a over the category names: cheap, stable across restarts.
        let mut version: u32 = 0x811c_9dc5;
        for b in categories.iter().flat_map(|c| c.bytes().chain([0])) {
            version = (version ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        Snapshot {
            version,
            categories,
            services,
            by_id,
            by_category,
            markup_percent,
        }
    }

    /// A service by its API id.
    pub fn service(&self, id: u64) -> Option<&Service> {
        self.by_id.get(&id).map(|&i| &self.services[i])
    }

    /// The services of one category, in the API's order.
    pub fn in_category(&self, category: &str) -> Vec<&Service> {
        self.by_category
            .get(category)
            .map(|ix| ix.iter().map(|&i| &self.services[i]).collect())
            .unwrap_or_default()
    }

    /// Services whose name or category contains every word of `query` (case-insensitive).
    pub fn search(&self, query: &str) -> Vec<&Service> {
        let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
        if words.is_empty() {
            return Vec::new();
        }
        self.services
            .iter()
            .filter(|s| {
                let hay = format!("{} {}", s.name, s.category).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect()
    }

    /// The customer's price per 1,000 for a service: the API rate plus the shop's markup.
    pub fn price_per_1k(&self, service: &Service) -> Naira {
        money::with_markup(service.rate_per_1k, self.markup_percent).unwrap_or(service.rate_per_1k)
    }
}

/// The cached catalog; cheap to share.
pub struct CatalogCache {
    panel: Client,
    markup_percent: Decimal,
    current: Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

impl CatalogCache {
    /// An empty cache over `panel`; the first `get` fetches.
    pub fn new(panel: Client, markup_percent: Decimal) -> CatalogCache {
        CatalogCache {
            panel,
            markup_percent,
            current: Mutex::new(None),
        }
    }

    /// The catalog, fetched when missing or older than [`CATALOG_TTL`]. A failed refresh
    /// serves the last good catalog; with none, the error is returned.
    pub async fn get(&self) -> Result<Arc<Snapshot>, panel::Error> {
        // Holding the lock while fetching makes concurrent customers share one fetch.
        let mut guard = self.current.lock().await;
        if let Some((at, snap)) = guard.as_ref()
            && at.elapsed() < CATALOG_TTL
        {
            return Ok(snap.clone());
        }
        match self.panel.services(&ServiceFilter::default()).await {
            Ok(catalog) => {
                let snap = Arc::new(Snapshot::new(catalog.services, self.markup_percent));
                *guard = Some((Instant::now(), snap.clone()));
                Ok(snap)
            }
            Err(e) => match guard.as_ref() {
                Some((_, snap)) => {
                    log::warn!("catalog refresh failed, serving the cached one: {e}");
                    Ok(snap.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Forgets the cached catalog so the next `get` fetches it again.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}
