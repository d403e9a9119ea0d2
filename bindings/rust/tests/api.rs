//! The safe API against the real library: every error path the brief names
//! (bad dimensions, unknown collection, bad filter JSON), exact ids and
//! payload numbers, snapshots, stores, and the Send/Sync contracts.
use quiver::{
    ffi, Collection, CollectionConfig, Error, Filter, IndexKind, Metric, PointId, SearchParams,
    Status, Store,
};
use std::path::PathBuf;

mod common;
use common::scratch;

fn euclid(dim: u32) -> Collection {
    Collection::new(CollectionConfig::new(dim).metric(Metric::Euclid)).unwrap()
}

#[test]
fn send_and_sync_follow_the_header() {
    fn both<T: Send + Sync>() {}
    both::<Collection>();
    both::<Store>();
    both::<Filter>();
    both::<quiver::vector_store::QuiverVectorStore>();
}

#[test]
fn search_finds_the_nearest_points() {
    let c = euclid(2);
    let ids: Vec<PointId> = (0..10u64).map(PointId::Num).collect();
    let vecs: Vec<f32> = (0..10).flat_map(|i| vec![i as f32, 0.0]).collect();
    c.upsert_batch(&ids, &vecs).unwrap();
    assert_eq!(c.count().unwrap(), 10);
    let hits = c.search(&[3.2, 0.0], &SearchParams::new(3)).unwrap();
    let got: Vec<PointId> = hits.iter().map(|h| h.id).collect();
    assert_eq!(got, vec![PointId::Num(3), PointId::Num(4), PointId::Num(2)]);
    assert!((hits[0].score - 0.2).abs() < 1e-5);
    let batch = c
        .search_batch(&[0.0, 0.0, 9.0, 0.0], &SearchParams::new(2))
        .unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0][0].id, PointId::Num(0));
    assert_eq!(batch[1][0].id, PointId::Num(9));
    assert_eq!(c.get(PointId::Num(7)).unwrap(), vec![7.0, 0.0]);
    assert!(c.contains(PointId::Num(7)).unwrap());
    c.delete(PointId::Num(7)).unwrap();
    assert!(!c.contains(PointId::Num(7)).unwrap());
    assert_eq!(
        c.delete_batch(&[PointId::Num(1), PointId::Num(77)])
            .unwrap(),
        1
    );
}

#[test]
fn bad_dimensions_are_dim_errors_with_the_message() {
    let c = euclid(4);
    let e = c.upsert(PointId::Num(1), &[1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(e.status(), Status::Dim);
    assert!(e.message().contains("3 components"), "{}", e);
    assert!(e.to_string().starts_with("QV_EDIM: "), "{}", e);
    let e = c.search(&[1.0], &SearchParams::new(1)).unwrap_err();
    assert!(matches!(e, Error::Dim(_)), "{:?}", e);
    let e = c
        .upsert_batch(&[PointId::Num(1), PointId::Num(2)], &[1.0; 7])
        .unwrap_err();
    assert!(matches!(e, Error::Dim(_)), "{:?}", e);
    let e = c
        .search_batch(&[1.0; 6], &SearchParams::new(1))
        .unwrap_err();
    assert!(matches!(e, Error::Dim(_)), "{:?}", e);
    assert_eq!(c.count().unwrap(), 0, "a failed call changes nothing");
}

#[test]
fn other_error_paths() {
    let c = euclid(2);
    let e = c.upsert(PointId::Num(1), &[f32::NAN, 0.0]).unwrap_err();
    assert_eq!(e.status(), Status::NonFinite);
    let e = c.search(&[0.0, 0.0], &SearchParams::new(0)).unwrap_err();
    assert_eq!(e.status(), Status::Range);
    let e = c.delete(PointId::Num(5)).unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
    let e = c.payload(PointId::Num(5)).unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
    c.upsert(PointId::Num(1), &[0.0, 0.0]).unwrap();
    let e = c.set_payload(PointId::Num(1), "[1, 2]").unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    let e = c.set_payload(PointId::Num(1), "{\"a\": ").unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    let e = Collection::new(CollectionConfig::new(0)).unwrap_err();
    assert_eq!(e.status(), Status::Range);
    let e = PointId::uuid("not-a-uuid").unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    let e = "18446744073709551616".parse::<PointId>().unwrap_err();
    assert_eq!(e.status(), Status::Range);
    // Sizes that cannot be allocated are errors, not aborts.
    let e = c
        .search_batch(&vec![0.0; 600_000], &SearchParams::new(1_000_000))
        .unwrap_err();
    assert_eq!(e.status(), Status::NoMem, "{}", e);
    let page = c.scroll(None, None, usize::MAX).unwrap();
    assert_eq!(page.ids, vec![PointId::Num(1)]);
    assert_eq!(page.next, None);
    let e = c.scroll(None, None, 0).unwrap_err();
    assert_eq!(e.status(), Status::Range);
    let e = Collection::open_snapshot(&scratch("nosnap").join("absent.qvs"), false).unwrap_err();
    assert_eq!(e.status(), Status::Io);
    assert!(e.message().contains("absent.qvs"), "{}", e);
}

#[test]
fn bad_filter_json_is_invalid_with_the_reason() {
    let e = Filter::from_json("{\"must\": [").unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    assert!(!e.message().is_empty());
    let e = Filter::from_json("{\"must\": [{\"key\": \"a\", \"range\": {}}]}").unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    assert!(e.message().contains("range"), "{}", e);
}

#[test]
fn unknown_collection_is_not_found() {
    let s = Store::new().unwrap();
    let e = s.get("nope").unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
    assert!(matches!(s.drop_collection("nope"), Err(Error::NotFound(_))));
    let vs = quiver::vector_store::QuiverVectorStore::new();
    let e = quiver::block_on(vs.search("nope", vec![1.0], 1, None)).unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
    let e = quiver::block_on(vs.index("nope", vec![vec![1.0]], vec!["{}"])).unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
}

#[test]
fn ids_above_2_pow_53_round_trip_exactly() {
    let c = euclid(1);
    let big = [u64::MAX, (1u64 << 53) + 1, (1u64 << 63) + 12345];
    let ids: Vec<PointId> = big.iter().map(|&n| PointId::Num(n)).collect();
    c.upsert_batch(&ids, &[1.0, 2.0, 3.0]).unwrap();
    let page = c.scroll(None, None, 10).unwrap();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(page.ids, want);
    let hits = c.search(&[1.0], &SearchParams::new(1)).unwrap();
    assert_eq!(hits[0].id, PointId::Num(u64::MAX));
    assert_eq!(PointId::Num(u64::MAX).to_string(), "18446744073709551615");
    assert_eq!(
        "9007199254740993".parse::<PointId>().unwrap(),
        PointId::Num((1 << 53) + 1)
    );
}

#[test]
fn uuid_ids_and_ordering_match_the_library() {
    let u = PointId::uuid("{550E8400-E29B-41D4-A716-446655440000}").unwrap();
    assert_eq!(u.to_string(), "550e8400-e29b-41d4-a716-446655440000");
    assert_eq!(u.to_string().parse::<PointId>().unwrap(), u);
    let ids = [
        PointId::Num(0),
        PointId::Num(u64::MAX),
        u,
        PointId::uuid("00000000-0000-0000-0000-000000000001").unwrap(),
    ];
    for a in &ids {
        for b in &ids {
            let (ra, rb) = (a.to_raw(), b.to_raw());
            // SAFETY: both are valid ids.
            let c = unsafe { ffi::qv_id_compare(&ra, &rb) };
            assert_eq!(a.cmp(b), c.cmp(&0), "{} vs {}", a, b);
        }
    }
}

#[test]
fn payload_numbers_round_trip_exactly() {
    let c = euclid(1);
    let json = "{\"big\":18446744073709551615,\"neg\":-9223372036854775808,\
                \"odd\":9007199254740993,\"one\":1.0,\"tenth\":0.1,\"max\":1.7976931348623157e308}";
    c.upsert_with_payloads(&[PointId::Num(1)], &[0.5], &[Some(json)])
        .unwrap();
    assert_eq!(c.payload(PointId::Num(1)).unwrap(), json);
    let f =
        Filter::from_json("{\"must\":[{\"key\":\"odd\",\"match\":{\"value\":9007199254740993}}]}")
            .unwrap();
    assert_eq!(c.count_filter(&f).unwrap(), 1);
    let f =
        Filter::from_json("{\"must\":[{\"key\":\"odd\",\"match\":{\"value\":9007199254740992}}]}")
            .unwrap();
    assert_eq!(c.count_filter(&f).unwrap(), 0);
    // The smallest subnormal comes back as its shortest text, as serde
    // prints it.
    c.set_payload(PointId::Num(1), "{\"tiny\":5e-324}").unwrap();
    assert_eq!(c.payload(PointId::Num(1)).unwrap(), "{\"tiny\":5e-324}");
}

#[test]
fn payload_edits_filters_and_indexes() {
    let c = euclid(1);
    let ids: Vec<PointId> = (1..=4u64).map(PointId::Num).collect();
    let p = [
        "{\"t\":\"a\"}",
        "{\"t\":\"b\"}",
        "{\"t\":\"a\"}",
        "{\"t\":\"c\"}",
    ];
    let payloads: Vec<Option<&str>> = p.iter().map(|s| Some(*s)).collect();
    c.upsert_with_payloads(&ids, &[1.0, 2.0, 3.0, 4.0], &payloads)
        .unwrap();
    c.create_index("t", IndexKind::Keyword).unwrap();
    assert_eq!(
        c.indexes().unwrap(),
        vec![("t".to_string(), "keyword".to_string())]
    );
    let f = Filter::from_json("{\"must\":[{\"key\":\"t\",\"match\":{\"value\":\"a\"}}]}").unwrap();
    let hits = c.search(&[4.0], &SearchParams::new(10).filter(&f)).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![PointId::Num(3), PointId::Num(1)]
    );
    let page = c.scroll(None, Some(&f), 1).unwrap();
    assert_eq!(page.ids, vec![PointId::Num(1)]);
    assert_eq!(page.next, Some(PointId::Num(3)));
    c.merge_payload(PointId::Num(2), "{\"x\":1}", None).unwrap();
    assert_eq!(c.payload(PointId::Num(2)).unwrap(), "{\"t\":\"b\",\"x\":1}");
    c.delete_payload_keys(PointId::Num(2), &["t"]).unwrap();
    assert_eq!(c.payload(PointId::Num(2)).unwrap(), "{\"x\":1}");
    c.clear_payload(PointId::Num(2)).unwrap();
    assert_eq!(c.payload(PointId::Num(2)).unwrap(), "{}");
    assert_eq!(c.delete_filter(&f).unwrap(), 2);
    assert_eq!(c.count().unwrap(), 2);
    c.upsert_with_payloads(
        &[PointId::Num(5), PointId::Num(6)],
        &[5.0, 6.0],
        &[
            Some("{\"t\":\"z\",\"n\":18446744073709551615}"),
            Some("{\"t\":\"z\",\"n\":-3}"),
        ],
    )
    .unwrap();
    use quiver::FacetValue;
    assert_eq!(
        c.facet("t", None, 10).unwrap(),
        vec![
            (FacetValue::Str("z".into()), 2),
            (FacetValue::Str("c".into()), 1)
        ]
    );
    c.create_index("n", IndexKind::Integer).unwrap();
    assert_eq!(
        c.facet("n", None, 10).unwrap(),
        vec![(FacetValue::Int(-3), 1), (FacetValue::UInt(u64::MAX), 1)]
    );
    assert_eq!(
        c.facet("x", None, 10).unwrap_err().status(),
        Status::NotFound
    );
    assert_eq!(c.facet("t", None, 0).unwrap_err().status(), Status::Range);
    c.drop_index("t").unwrap();
    assert_eq!(c.drop_index("t").unwrap_err().status(), Status::NotFound);
}

#[test]
fn snapshots_round_trip() {
    let dir = scratch("snap");
    let c = euclid(2);
    c.upsert_with_payloads(&[PointId::Num(u64::MAX)], &[1.0, 2.0], &[Some("{\"k\":1}")])
        .unwrap();
    let path = dir.join("c.qvs");
    c.save_snapshot(&path).unwrap();
    Collection::verify_snapshot(&path).unwrap();
    let back = Collection::open_snapshot(&path, true).unwrap();
    assert_eq!(back.config().unwrap(), c.config().unwrap());
    assert_eq!(back.get(PointId::Num(u64::MAX)).unwrap(), vec![1.0, 2.0]);
    assert_eq!(back.payload(PointId::Num(u64::MAX)).unwrap(), "{\"k\":1}");
    std::fs::write(
        dir.join("junk.qvs"),
        b"not a snapshot at all, just some bytes",
    )
    .unwrap();
    let e = Collection::open_snapshot(&dir.join("junk.qvs"), false).unwrap_err();
    assert!(
        matches!(e.status(), Status::Format | Status::Corrupt),
        "{:?}",
        e
    );
    c.export_json(&dir.join("c.json")).unwrap();
    let imported = Collection::import_json(
        &dir.join("c.json"),
        CollectionConfig::new(0).metric(Metric::Euclid),
    )
    .unwrap();
    assert_eq!(
        imported.payload(PointId::Num(u64::MAX)).unwrap(),
        "{\"k\":1}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stores_in_memory_and_durable() {
    let s = Store::new().unwrap();
    let (c, created) = s.ensure("docs", CollectionConfig::new(3)).unwrap();
    assert!(created);
    let (_, created) = s.ensure("docs", CollectionConfig::new(3)).unwrap();
    assert!(!created);
    assert_eq!(
        s.ensure("docs", CollectionConfig::new(4))
            .unwrap_err()
            .status(),
        Status::Exists
    );
    assert_eq!(
        s.create("docs", CollectionConfig::new(3))
            .unwrap_err()
            .status(),
        Status::Exists
    );
    assert_eq!(
        s.create("a/b", CollectionConfig::new(3))
            .unwrap_err()
            .status(),
        Status::Invalid
    );
    c.upsert(PointId::Num(1), &[1.0, 0.0, 0.0]).unwrap();
    assert_eq!(s.total_points().unwrap(), 1);
    assert_eq!(s.list().unwrap(), vec!["docs".to_string()]);
    drop(s);
    assert_eq!(c.count().unwrap(), 1, "a collection outlives its store");

    let dir = scratch("durable");
    {
        let s = Store::open_dir(&dir).unwrap();
        let c = s.create("d", CollectionConfig::new(1)).unwrap();
        c.upsert(PointId::Num(42), &[1.0]).unwrap();
        s.checkpoint().unwrap();
        let e = Store::open_dir(&dir).unwrap_err();
        assert_eq!(
            e.status(),
            Status::Io,
            "the store is locked while open: {}",
            e
        );
    }
    let s = Store::open_dir(&dir).unwrap();
    assert!(s.get("d").unwrap().contains(PointId::Num(42)).unwrap());
    drop(s);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_readers_and_writers_share_a_collection() {
    let c = euclid(2);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..100u64 {
                    c.upsert(PointId::Num(t * 1000 + i), &[i as f32, t as f32])
                        .unwrap();
                    c.search(&[0.0, 0.0], &SearchParams::new(5)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(c.count().unwrap(), 400);
}
