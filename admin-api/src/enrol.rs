//! Enrolment on the admin side: photos → embeddings with the same models and
//! quality rules as the edge, stored with the model id that made them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pipeline::eval::fixture::Fixture;
use pipeline::vision::enrol::Enroller;
use pipeline::vision::frame::BgrImage;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use sqlx::AnyPool;
use wire::{PersonInfo, StoredEmbedding};

/// Embeds each photo (a refused photo is reported and fails the enrolment:
/// the operator must know which photo to replace) and stores the person.
pub async fn enrol_photos(db: &AnyPool, info: PersonInfo, photos: &[PathBuf]) -> Result<i64> {
    let models = Models::locate()?;
    let model_id = models.recogniser.model_id();
    let mut enroller = Enroller::new(&models, Threads::default())?;
    let mut embeddings = Vec::new();
    for photo in photos {
        let image = BgrImage::open(photo).with_context(|| format!("{}: not a readable image", photo.display()))?;
        let vector = enroller.embed_photo(&image).with_context(|| format!("{}", photo.display()))?;
        embeddings.push(StoredEmbedding { model_id: model_id.clone(), vector });
    }
    Ok(crate::gallery::upsert_person(db, &info, &embeddings).await?)
}

/// Enrols a fixture's gallery with its photos (kept under `data`, shown
/// beside each alert's face); returns (people, gallery version).
pub async fn enrol_fixture(db: &AnyPool, dir: &Path, data: &Path) -> Result<(usize, i64)> {
    let fixture = Fixture::open(dir)?;
    let models = Models::locate()?;
    let model_id = models.recogniser.model_id();
    let mut enroller = Enroller::new(&models, Threads::default())?;
    let gallery = pipeline::eval::replay::enrol_fixture(&mut enroller, &fixture, &model_id)?;
    let mut version = 0;
    for (i, person) in gallery.people().iter().enumerate() {
        let embeddings: Vec<_> =
            gallery.embeddings_of(i).map(|vector| StoredEmbedding { model_id: model_id.clone(), vector }).collect();
        // Re-enrolling a fixture replaces, not accumulates, its embeddings and photos.
        crate::people::delete(db, data, &person.id).await?;
        version = crate::gallery::upsert_person(db, person, &embeddings).await?;
        let folder = dir.join("gallery").join(&person.id);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("png")))
            .collect();
        files.sort();
        let images = files
            .iter()
            .map(|f| BgrImage::open(f).with_context(|| format!("{}: not a readable image", f.display())))
            .collect::<Result<Vec<_>>>()?;
        crate::people::store_photos(db, data, &person.id, &images).await?;
    }
    Ok((gallery.len(), version))
}
