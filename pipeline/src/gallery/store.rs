//! The durable gallery in `sled`: person records and the gallery version.

use std::path::Path;

use wire::PersonRecord;

use super::{Gallery, GalleryError};

/// The durable gallery in `sled`.
pub struct GalleryStore {
    db: sled::Db,
    people: sled::Tree,
    meta: sled::Tree,
}

const VERSION_KEY: &[u8] = b"version";

impl GalleryStore {
    pub fn open(path: &Path) -> Result<GalleryStore, GalleryError> {
        let db = sled::open(path)
            .map_err(|e| GalleryError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        let people = db.open_tree("people")?;
        let meta = db.open_tree("meta")?;
        Ok(GalleryStore { db, people, meta })
    }

    pub fn version(&self) -> Result<u64, GalleryError> {
        Ok(self.meta.get(VERSION_KEY)?.map(|v| read_u64(&v)).unwrap_or(0))
    }

    /// Inserts or replaces a person; the gallery version becomes `version`
    /// (or the next version when `None`). Durable on return.
    pub fn upsert(&self, mut record: PersonRecord, version: Option<u64>) -> Result<u64, GalleryError> {
        let v = version.unwrap_or(self.version()? + 1);
        record.version = v;
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| GalleryError::Corrupt { key: record.person.id.clone(), reason: e.to_string() })?;
        self.people.insert(record.person.id.as_bytes(), bytes)?;
        self.meta.insert(VERSION_KEY, &v.to_be_bytes())?;
        self.db.flush()?;
        Ok(v)
    }

    /// Removes a person (deletion on request, expiry); durable on return.
    pub fn remove(&self, id: &str, version: Option<u64>) -> Result<bool, GalleryError> {
        let v = version.unwrap_or(self.version()? + 1);
        let existed = self.people.remove(id.as_bytes())?.is_some();
        self.meta.insert(VERSION_KEY, &v.to_be_bytes())?;
        self.db.flush()?;
        Ok(existed)
    }

    /// Sets the gallery version (after a sync); durable on return.
    pub fn set_version(&self, version: u64) -> Result<(), GalleryError> {
        self.meta.insert(VERSION_KEY, &version.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Deletes people whose enrolment expired at or before `now` (unix
    /// seconds): an expired visitor's embeddings do not linger on the edge,
    /// even while it cannot reach the admin API. The version is unchanged (the
    /// admin API's own expiry reaches the edge as a removal later).
    pub fn purge_expired(&self, now: i64) -> Result<Vec<String>, GalleryError> {
        let mut gone = Vec::new();
        for r in self.records()? {
            if r.person.valid_until.is_some_and(|t| t <= now) {
                self.people.remove(r.person.id.as_bytes())?;
                gone.push(r.person.id);
            }
        }
        if !gone.is_empty() {
            self.db.flush()?;
        }
        Ok(gone)
    }

    /// The earliest expiry (unix seconds) among cached people, if any.
    pub fn next_expiry(&self) -> Result<Option<i64>, GalleryError> {
        Ok(self.records()?.iter().filter_map(|r| r.person.valid_until).min())
    }

    /// The earliest start of validity after `now` (unix seconds), if any:
    /// when it comes, the searchable gallery must be rebuilt to include them.
    pub fn next_activation(&self, now: i64) -> Result<Option<i64>, GalleryError> {
        Ok(self.records()?.iter().filter_map(|r| r.person.valid_from).filter(|t| *t > now).min())
    }

    pub fn records(&self) -> Result<Vec<PersonRecord>, GalleryError> {
        self.people
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| GalleryError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Loads the searchable gallery for `model_id` as of `now` (unix seconds).
    pub fn load(&self, model_id: &str, now: i64) -> Result<Gallery, GalleryError> {
        let records = self.records()?;
        Ok(Gallery::from_records(model_id, self.version()?, &records, now))
    }
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
