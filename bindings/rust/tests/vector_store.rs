//! The InMemoryVectorStore-shaped wrapper: the toy store's operations, and
//! save / load through a directory of snapshots.
use quiver::vector_store::{Document, QuiverVectorStore};
use quiver::{block_on, PointId, Status};

mod common;
use common::scratch;

#[test]
fn the_toy_store_operations() {
    let store = QuiverVectorStore::new();
    block_on(store.ensure_collection("docs", 3)).unwrap();
    block_on(store.ensure_collection("docs", 3)).unwrap();
    let e = block_on(store.ensure_collection("docs", 4)).unwrap_err();
    assert_eq!(e.status(), Status::Exists);
    block_on(store.index(
        "docs",
        vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.9, 0.1, 0.0],
        ],
        vec![
            "{\"entity_id\":\"e-1\",\"text\":\"alpha\"}",
            "{\"entity_id\":\"e-2\",\"text\":\"beta\"}",
            "{\"entity_id\":\"e-1\",\"text\":\"alpha 2\"}",
        ],
    ))
    .unwrap();
    assert_eq!(store.total_points(), 3);
    let hits = block_on(store.search("docs", vec![1.0, 0.0, 0.0], 2, None)).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits[0].payload.contains("\"alpha\""), "{:?}", hits);
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    assert!(hits[0].id.parse::<PointId>().is_ok());
    let filter = "{\"must\":[{\"key\":\"entity_id\",\"match\":{\"value\":\"e-2\"}}]}";
    let hits = block_on(store.search("docs", vec![1.0, 0.0, 0.0], 5, Some(filter))).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].payload.contains("beta"));
    let e = block_on(store.search("docs", vec![1.0, 0.0, 0.0], 5, Some("{\"must\":"))).unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    let e = block_on(store.search("docs", vec![1.0, 0.0], 5, None)).unwrap_err();
    assert_eq!(e.status(), Status::Dim);
    let e = block_on(store.index("docs", vec![vec![1.0, 0.0]], vec!["{}"])).unwrap_err();
    assert_eq!(e.status(), Status::Dim);
    let e =
        block_on(store.index("docs", vec![vec![1.0, 0.0, 0.0]], Vec::<String>::new())).unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    assert!(block_on(store.search("docs", vec![1.0, 0.0, 0.0], 0, None))
        .unwrap()
        .is_empty());
    let all = block_on(store.search("docs", vec![1.0, 0.0, 0.0], usize::MAX, None)).unwrap();
    assert_eq!(all.len(), 3);
    block_on(store.delete_by_entity("docs", "e-1")).unwrap();
    assert_eq!(store.total_points(), 1);
    assert_eq!(store.collection_names(), vec!["docs".to_string()]);
}

#[test]
fn save_and_load_keep_everything() {
    let dir = scratch("save");
    let store = QuiverVectorStore::new();
    block_on(store.ensure_collection("a", 2)).unwrap();
    block_on(store.ensure_collection("b b", 1)).unwrap();
    block_on(store.upsert(
        "a",
        vec![Document {
            id: PointId::Num(u64::MAX),
            embedding: vec![0.0, 1.0],
            metadata: "{\"n\":18446744073709551615,\"x\":0.1}".to_string(),
        }],
    ))
    .unwrap();
    store.save(&dir).unwrap();
    // Save twice: the second generation replaces the first.
    block_on(store.index("b b", vec![vec![1.0]], vec!["{\"entity_id\":\"z\"}"])).unwrap();
    store.save(&dir).unwrap();
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".qvs"))
        .collect();
    assert_eq!(files.len(), 2, "old generation removed: {:?}", files);

    let back = QuiverVectorStore::load(&dir).unwrap();
    assert_eq!(
        back.collection_names(),
        vec!["a".to_string(), "b b".to_string()]
    );
    assert_eq!(back.total_points(), 2);
    let hits = block_on(back.search("a", vec![0.0, 1.0], 1, None)).unwrap();
    assert_eq!(hits[0].id, "18446744073709551615");
    assert_eq!(hits[0].payload, "{\"n\":18446744073709551615,\"x\":0.1}");
    // A loaded store keeps working and saves again.
    block_on(back.delete_by_entity("b b", "z")).unwrap();
    back.save(&dir).unwrap();
    assert_eq!(QuiverVectorStore::load(&dir).unwrap().total_points(), 1);

    let e = QuiverVectorStore::load(&dir.join("absent")).err().unwrap();
    assert_eq!(e.status(), Status::Io);
    std::fs::write(dir.join("MANIFEST"), "something else\n").unwrap();
    assert_eq!(
        QuiverVectorStore::load(&dir).err().unwrap().status(),
        Status::Format
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
