//! A drop-in for the toy `InMemoryVectorStore` of Rust RAG frameworks.
//!
//! The shape is MagicAF's (`magicaf_core::vector_store`): `new`, `load`,
//! `save`, and the `VectorStore` trait's `ensure_collection`, `index`,
//! `search` and `delete_by_entity` as async methods with the same arguments,
//! so that an application changes one type name and keeps its `.await`s.
//! The futures do their work when first polled (the library call is
//! synchronous and quick); [`crate::block_on`] runs them without a runtime.
//!
//! Differences, because this crate depends on nothing:
//! - payloads are JSON text: `index` takes any `Display` payload, which a
//!   `serde_json::Value` is (its Display is its JSON); results carry the
//!   payload as JSON text for `serde_json::from_str`;
//! - `search` takes the filter as Qdrant filter JSON text (`Option<&str>`);
//! - `delete_by_entity` takes any `Display` id (a `uuid::Uuid` prints as
//!   its hyphenated form) and deletes every point whose payload has that
//!   string under "entity_id", MagicAF's convention.
//!
//! Collections are cosine, as the toy store's brute-force cosine, but
//! searched by Quiver (HNSW above the full-scan threshold, filters with
//! payload indexes).  Points added by `index` get random version-4 UUIDs;
//! `upsert` takes the application's own ids.
//!
//! `save(dir)` writes a directory: one snapshot file per collection
//! (`<generation>-<i>.qvs`, crash-safe each) and then `MANIFEST`, which
//! names them and is replaced atomically, so a crash during a save leaves
//! the previous save whole; files of older generations are removed last.
//! `load(dir)` maps the snapshots (nothing is read up front), so loading a
//! large store takes milliseconds.
use crate::collection::{Collection, CollectionConfig, Metric, SearchParams};
use crate::error::{Error, Result};
use crate::ffi;
use crate::filter::Filter;
use crate::id::PointId;
use crate::util::{c_path, with_err};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::RwLock;

const MANIFEST: &str = "MANIFEST";
const MANIFEST_HEADER: &str = "quiver-vector-store 1";

/// One search result, as the toy store's `SearchResult`.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// The point id's text form (decimal or hyphenated UUID).
    pub id: String,
    /// Cosine similarity, higher is more similar.
    pub score: f32,
    /// The payload, compact JSON text.
    pub payload: String,
}

/// A point with the application's id, for [`QuiverVectorStore::upsert`].
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub id: PointId,
    pub embedding: Vec<f32>,
    /// A JSON object.
    pub metadata: String,
}

/// Named cosine collections, in memory, saved to and loaded from a
/// directory.  `Send + Sync`: reads run concurrently, and so do writes to a
/// collection (the library serialises them); the name map has its own lock.
#[derive(Default, Debug)]
pub struct QuiverVectorStore {
    collections: RwLock<BTreeMap<String, Collection>>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("a thread panicked while holding the store's lock".to_string())
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn random_uuid() -> Result<PointId> {
    let mut b = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::Io(format!("/dev/urandom: {}", e)))?;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    Ok(PointId::Uuid(b))
}

impl QuiverVectorStore {
    /// An empty store.
    pub fn new() -> QuiverVectorStore {
        QuiverVectorStore::default()
    }

    /// The store `save` wrote to directory `path`.
    pub fn load(path: &Path) -> Result<QuiverVectorStore> {
        let text = fs::read_to_string(path.join(MANIFEST))
            .map_err(|e| Error::Io(format!("{}: {}", path.join(MANIFEST).display(), e)))?;
        let mut lines = text.lines();
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(Error::Format(format!(
                "{}: not a Quiver vector store manifest",
                path.join(MANIFEST).display()
            )));
        }
        let mut map = BTreeMap::new();
        for line in lines {
            let (file, name) = line.split_once('\t').ok_or_else(|| {
                Error::Corrupt(format!("{}: malformed line {:?}", MANIFEST, line))
            })?;
            if file.contains('/') || file.starts_with('.') {
                return Err(Error::Corrupt(format!(
                    "{}: bad file name {:?}",
                    MANIFEST, file
                )));
            }
            map.insert(
                name.to_string(),
                Collection::open_snapshot(&path.join(file), false)?,
            );
        }
        Ok(QuiverVectorStore {
            collections: RwLock::new(map),
        })
    }

    /// Writes every collection to directory `path` (created if missing).
    pub fn save(&self, path: &Path) -> Result<()> {
        fs::create_dir_all(path).map_err(|e| Error::Io(format!("{}: {}", path.display(), e)))?;
        let generation = next_generation(path)?;
        let map = self.collections.read().map_err(poisoned)?;
        let mut manifest = String::from(MANIFEST_HEADER);
        manifest.push('\n');
        for (i, (name, coll)) in map.iter().enumerate() {
            let file = format!("{}-{}.qvs", generation, i);
            coll.save_snapshot(&path.join(&file))?;
            manifest.push_str(&format!("{}\t{}\n", file, name));
        }
        drop(map);
        replace_file(&path.join(MANIFEST), manifest.as_bytes())?;
        remove_other_generations(path, generation);
        Ok(())
    }

    /// Creates the cosine collection `collection` of `vector_size`
    /// dimensions, or does nothing if it exists with that size (`Exists` if
    /// with another).
    pub async fn ensure_collection(&self, collection: &str, vector_size: usize) -> Result<()> {
        check_name(collection)?;
        let dim = u32::try_from(vector_size)
            .map_err(|_| Error::Range(format!("vector size {} is too large", vector_size)))?;
        let mut map = self.collections.write().map_err(poisoned)?;
        if let Some(c) = map.get(collection) {
            let have = c.config()?.dim;
            if have != dim {
                return Err(Error::Exists(format!(
                    "collection {} exists with vector size {}, not {}",
                    collection, have, dim
                )));
            }
            return Ok(());
        }
        let c = Collection::new(CollectionConfig::new(dim).metric(Metric::Cosine))?;
        map.insert(collection.to_string(), c);
        Ok(())
    }

    /// Adds one point per embedding, with the payload of the same position
    /// (a JSON object), under new random UUIDs.  All or nothing.
    pub async fn index<P: Display>(
        &self,
        collection: &str,
        embeddings: Vec<Vec<f32>>,
        payloads: Vec<P>,
    ) -> Result<()> {
        if embeddings.len() != payloads.len() {
            return Err(Error::Invalid(format!(
                "{} embeddings but {} payloads",
                embeddings.len(),
                payloads.len()
            )));
        }
        let docs = embeddings
            .into_iter()
            .zip(payloads)
            .map(|(embedding, p)| {
                Ok(Document {
                    id: random_uuid()?,
                    embedding,
                    metadata: p.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.upsert(collection, docs).await
    }

    /// Adds or replaces points under the application's ids.  All or nothing.
    pub async fn upsert(&self, collection: &str, documents: Vec<Document>) -> Result<()> {
        let c = self.collection(collection)?;
        let dim = c.config()?.dim as usize;
        let mut flat = Vec::with_capacity(documents.len() * dim);
        for (i, d) in documents.iter().enumerate() {
            if d.embedding.len() != dim {
                return Err(Error::Dim(format!(
                    "embedding {} has {} components, collection {} expects {}",
                    i,
                    d.embedding.len(),
                    collection,
                    dim
                )));
            }
            flat.extend_from_slice(&d.embedding);
        }
        let ids: Vec<PointId> = documents.iter().map(|d| d.id).collect();
        let payloads: Vec<Option<&str>> = documents
            .iter()
            .map(|d| Some(d.metadata.as_str()))
            .collect();
        c.upsert_with_payloads(&ids, &flat, &payloads)
    }

    /// The `limit` most similar points, best first, among those matching
    /// `filter` (Qdrant filter JSON) if given.  `limit` is a maximum:
    /// 0 gives no results, and beyond QV_MAX_K (1,000,000) it gives that many.
    pub async fn search(
        &self,
        collection: &str,
        query_vector: Vec<f32>,
        limit: usize,
        filter: Option<&str>,
    ) -> Result<Vec<SearchResult>> {
        let c = self.collection(collection)?;
        let filter = filter.map(Filter::from_json).transpose()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let k = limit.min(ffi::QV_MAX_K as usize) as u32;
        let mut params = SearchParams::new(k);
        params.filter = filter.as_ref();
        c.search(&query_vector, &params)?
            .into_iter()
            .map(|h| {
                Ok(SearchResult {
                    id: h.id.to_string(),
                    score: h.score,
                    payload: c.payload(h.id)?,
                })
            })
            .collect()
    }

    /// Deletes every point whose payload's "entity_id" is `entity_id`.
    pub async fn delete_by_entity<E: Display>(&self, collection: &str, entity_id: E) -> Result<()> {
        let c = self.collection(collection)?;
        let json = format!(
            "{{\"must\":[{{\"key\":\"entity_id\",\"match\":{{\"value\":{}}}}}]}}",
            json_string(&entity_id.to_string())
        );
        c.delete_filter(&Filter::from_json(&json)?).map(|_| ())
    }

    /// Points in all collections.
    pub fn total_points(&self) -> usize {
        let map = match self.collections.read() {
            Ok(m) => m,
            Err(_) => return 0,
        };
        map.values().map(|c| c.count().unwrap_or(0) as usize).sum()
    }

    /// Collection names, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        match self.collections.read() {
            Ok(m) => m.keys().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The collection itself, for everything the toy store cannot do
    /// (payload indexes, batch search, scrolling); `NotFound` if absent.
    pub fn collection(&self, name: &str) -> Result<Collection> {
        let map = self.collections.read().map_err(poisoned)?;
        map.get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("collection {} does not exist", name)))
    }
}

/// Names go into the manifest's tab-separated lines.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['\t', '\n', '\r', '\0']) {
        return Err(Error::Invalid(format!("bad collection name {:?}", name)));
    }
    Ok(())
}

/// `<generation>-<i>.qvs` -> generation.
fn generation_of(file: &str) -> Option<u64> {
    let stem = file.strip_suffix(".qvs")?;
    let (g, i) = stem.split_once('-')?;
    i.parse::<u64>().ok()?;
    g.parse().ok()
}

fn next_generation(dir: &Path) -> Result<u64> {
    let entries = fs::read_dir(dir).map_err(|e| Error::Io(format!("{}: {}", dir.display(), e)))?;
    let newest = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| generation_of(&e.file_name().to_string_lossy()))
        .max();
    Ok(newest.map_or(1, |g| g + 1))
}

/// Best effort: a file left behind by a failed removal is only disk space,
/// and the next save tries again.
fn remove_other_generations(dir: &Path, keep: u64) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if generation_of(&name).map_or(false, |g| g != keep) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Replaces `path` with `data` through the library's crash-safe protocol
/// (temporary file, fsync, rename, directory fsync).
fn replace_file(path: &Path, data: &[u8]) -> Result<()> {
    let p = c_path(path)?;
    let mut w = std::ptr::null_mut();
    // SAFETY: p is NUL-terminated; w receives a writer.
    with_err(|err, cap| unsafe { ffi::qv_file_replace_begin(p.as_ptr(), &mut w, err, cap) })?;
    // SAFETY: w is a live writer; data has data.len() bytes.  A failed write
    // leaves w failed, and commit then reports it and removes the temporary.
    unsafe { ffi::qv_file_replace_write(w, data.as_ptr() as *const _, data.len()) };
    // SAFETY: commit frees w whatever happens.
    with_err(|err, cap| unsafe { ffi::qv_file_replace_commit(w, err, cap) })
}
