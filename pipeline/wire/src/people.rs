//! Enrolled people as edges hold them: who they are, their category, and the
//! face embeddings made from their photos (never the photos themselves).

use serde::{Deserialize, Serialize};

pub const EMBEDDING_DIM: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Staff,
    Resident,
    Visitor,
    Watchlist,
}

/// An L2-normalised face embedding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Embedding(#[serde(with = "serde_embedding")] pub [f32; EMBEDDING_DIM]);

impl Embedding {
    /// Normalises `v` to unit length; `None` for a zero or non-finite vector.
    pub fn from_raw(v: &[f32]) -> Option<Embedding> {
        if v.len() != EMBEDDING_DIM {
            return None;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        let mut out = [0.0; EMBEDDING_DIM];
        for (o, x) in out.iter_mut().zip(v) {
            *o = x / norm;
        }
        Some(Embedding(out))
    }

    /// Cosine similarity (both are unit vectors).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| a * b).sum()
    }
}

mod serde_embedding {
    use super::EMBEDDING_DIM;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[f32; EMBEDDING_DIM], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; EMBEDDING_DIM], D::Error> {
        let v: Vec<f32> = Vec::deserialize(d)?;
        v.try_into().map_err(|v: Vec<f32>| D::Error::custom(format!("embedding has {} values, expected 128", v.len())))
    }
}

/// Who an enrolled person is (no photos: edges never hold enrolment photos).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonInfo {
    pub id: String,
    pub name: String,
    pub category: Category,
    #[serde(default)]
    pub cccd: Option<String>,
    /// Unix seconds after which the enrolment has expired (visitors).
    #[serde(default)]
    pub valid_until: Option<i64>,
    /// Unix seconds before which the enrolment is not yet valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEmbedding {
    pub model_id: String,
    pub vector: Embedding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub person: PersonInfo,
    pub embeddings: Vec<StoredEmbedding>,
    /// Faces an admin marked as "this is not this person": a probe closer to
    /// one of them than to the person's own photos is not matched to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub negatives: Vec<StoredEmbedding>,
    /// Gallery version at which this record last changed.
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_raw_normalises_and_rejects_zero() {
        let mut v = vec![0.0f32; EMBEDDING_DIM];
        v[0] = 3.0;
        v[1] = 4.0;
        let e = Embedding::from_raw(&v).expect("non-zero");
        assert!((e.0[0] - 0.6).abs() < 1e-6 && (e.cosine(&e) - 1.0).abs() < 1e-6);
        assert!(Embedding::from_raw(&[0.0; EMBEDDING_DIM]).is_none());
        assert!(Embedding::from_raw(&[1.0; 3]).is_none());
    }

    #[test]
    fn embedding_round_trips_through_json() {
        let e = Embedding::from_raw(&[1.0; EMBEDDING_DIM]).expect("valid");
        let back: Embedding = serde_json::from_str(&serde_json::to_string(&e).expect("ser")).expect("de");
        assert_eq!(e, back);
        assert!(serde_json::from_str::<Embedding>("[1.0, 2.0]").is_err());
    }
}
