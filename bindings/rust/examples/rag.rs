//! A first Quiver program: the toy in-memory store's operations, then the
//! lower-level Collection API on the same data.
//!
//!     QUIVER_LIB_DIR=build cargo run --offline --example rag [DIR]
//!
//! With DIR, the store is saved there and kept (ctest then loads it from
//! Python: the two bindings share the directory format).
use quiver::vector_store::QuiverVectorStore;
use quiver::{block_on, Filter, SearchParams};

/// A stand-in for an embedding model: 4 numbers from a word's letters.
fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; 4];
    for (i, b) in text.bytes().enumerate() {
        v[i % 4] += (b % 32) as f32;
    }
    v
}

fn main() -> Result<(), quiver::Error> {
    let (version, simd) = quiver::build_info();
    println!("libquiver {} ({} kernels)", version, simd);

    let store = QuiverVectorStore::new();
    block_on(store.ensure_collection("notes", 4))?;
    let notes = [
        ("kiwi", "fruit"),
        ("apple", "fruit"),
        ("carrot", "vegetable"),
    ];
    block_on(
        store.index(
            "notes",
            notes.iter().map(|(t, _)| embed(t)).collect(),
            notes
                .iter()
                .enumerate()
                .map(|(i, (t, kind))| {
                    format!(
                        "{{\"entity_id\":\"note-{}\",\"text\":\"{}\",\"kind\":\"{}\"}}",
                        i, t, kind
                    )
                })
                .collect(),
        ),
    )?;

    let filter = r#"{"must": [{"key": "kind", "match": {"value": "fruit"}}]}"#;
    for hit in block_on(store.search("notes", embed("kiwi"), 2, Some(filter)))? {
        println!("{:.3}  {}  {}", hit.score, hit.id, hit.payload);
    }

    block_on(store.delete_by_entity("notes", "note-2"))?;
    let keep = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("quiver-example-{}", std::process::id()))
    });
    store.save(&dir)?;
    let loaded = QuiverVectorStore::load(&dir)?;
    println!(
        "saved and loaded {} points from {}",
        loaded.total_points(),
        dir.display()
    );

    // Errors carry the library's status and message.
    if let Err(e) = block_on(loaded.search("notes", vec![1.0, 2.0], 1, None)) {
        println!("as expected: {}", e);
    }

    // The same collection through the lower-level API: batch search.
    let notes = loaded.collection("notes")?;
    let fruit = Filter::from_json(filter)?;
    let queries: Vec<f32> = ["kiwi", "apple"].iter().flat_map(|t| embed(t)).collect();
    let results = notes.search_batch(&queries, &SearchParams::new(1).filter(&fruit))?;
    for (q, hits) in results.iter().enumerate() {
        println!("query {}: best {} ({:.3})", q, hits[0].id, hits[0].score);
    }
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}
