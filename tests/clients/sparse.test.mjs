// sparse.test.mjs -- sparse vectors through the official Qdrant JavaScript
// client: a collection with a dense vector and two sparse ones (one with
// the `idf` modifier), upserts, retrieval, sparse queries (query API and
// legacy search) with filters, vector updates and deletes, and Qdrant's
// validation errors, and the built-in qdrant/bm25 model (Documents).
//
// Expected scores come from an oracle written here from Qdrant's
// definitions: a sparse score is the dot product over the dimensions the
// query and the point share (a point sharing none is not a hit), and the
// idf modifier multiplies each query value by
// ln(1 + (N - df + 0.5) / (df + 0.5)), N the points holding the vector, df
// those holding the dimension (Qdrant's docs, "Sparse vectors: IDF").
//
// Run through tests/clients/run.sh.

import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, assertRanking, expectHttpError, settle, step } from './harness.mjs';

const C = 'js_sparse';
const client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });

// A seeded generator, so a failure replays.
let seed = 12345;
function rnd() {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
}

function sparse(maxDim, n) {
    const dims = new Set();
    while (dims.size < n) dims.add(Math.floor(rnd() * rnd() * maxDim));
    const indices = [...dims];
    return { indices, values: indices.map(() => Math.fround(0.1 + rnd() * 2)) };
}

const POINTS = [];
for (let i = 1; i <= 40; i++) {
    const vector = { dense: [rnd(), rnd(), rnd()] };
    if (i % 7 !== 0) vector.text = sparse(30, 2 + (i % 5));
    if (i % 2 === 0) vector.kw = sparse(10, 2);
    POINTS.push({ id: i, vector, payload: { group: i % 3, n: i } });
}

// The oracle: score of point vector v against query q (raw values), with
// idf computed over the points that hold `name`.
function oracle(name, q, { idf = false, filter = () => true, limit = 10 } = {}) {
    const holders = POINTS.filter((p) => p.vector[name]);
    const n = holders.length;
    const qv = q.indices.map((d, j) => {
        if (!idf) return Math.fround(q.values[j]);
        const df = holders.filter((p) => p.vector[name].indices.includes(d)).length;
        const w = Math.fround(Math.log(Math.fround((n - df + 0.5) / (df + 0.5)) + 1));
        return Math.fround(Math.fround(q.values[j]) * w);
    });
    const hits = [];
    for (const p of holders) {
        if (!filter(p)) continue;
        const v = p.vector[name];
        let s = 0;
        let any = false;
        q.indices.forEach((d, j) => {
            const at = v.indices.indexOf(d);
            if (at >= 0) {
                s += qv[j] * Math.fround(v.values[at]);
                any = true;
            }
        });
        if (any) hits.push({ id: p.id, score: s });
    }
    hits.sort((a, b) => b.score - a.score || a.id - b.id);
    return hits.slice(0, limit);
}

function sortedCopy(v) {
    const pairs = v.indices.map((d, j) => [d, v.values[j]]).sort((a, b) => a[0] - b[0]);
    return { indices: pairs.map((p) => p[0]), values: pairs.map((p) => p[1]) };
}

step('create a dense + sparse collection', async () => {
    await client.deleteCollection(C).catch(() => {});
    assert.equal(
        await client.createCollection(C, {
            vectors: { dense: { size: 3, distance: 'Cosine' } },
            sparse_vectors: { text: { modifier: 'idf' }, kw: { index: { full_scan_threshold: 5, on_disk: false } } },
        }),
        true,
    );
    const info = await client.getCollection(C);
    assert.deepEqual(Object.keys(info.config.params.sparse_vectors).sort(), ['kw', 'text']);
    assert.equal(info.config.params.sparse_vectors.text.modifier, 'idf');
});

step('update sparse vector settings', async () => {
    assert.equal(await client.updateCollection(C, { sparse_vectors: { kw: { index: { full_scan_threshold: 3 } } } }), true);
    const kw = (await client.getCollection(C)).config.params.sparse_vectors.kw;
    assert.deepEqual(kw.index, { full_scan_threshold: 3, on_disk: false });
    const msg = await expectHttpError(400, () => client.updateCollection(C, { sparse_vectors: { nope: {} } }));
    assert.match(msg, /Not existing vector name error: nope/);
    // The modifier may change (Qdrant 1.19's update_sparse_vectors_from_other);
    // set it back at once, the steps below score with IDF.
    assert.equal(await client.updateCollection(C, { sparse_vectors: { text: { modifier: 'none' } } }), true);
    assert.equal((await client.getCollection(C)).config.params.sparse_vectors.text.modifier, 'none');
    assert.equal(await client.updateCollection(C, { sparse_vectors: { text: { modifier: 'idf' } } }), true);
    assert.equal((await client.getCollection(C)).config.params.sparse_vectors.text.modifier, 'idf');
});

step('upsert points with sparse vectors', async () => {
    const r = await client.upsert(C, { wait: true, points: POINTS });
    assert.equal(r.status, 'completed');
    assert.equal((await client.count(C, { exact: true })).count, POINTS.length);
    // Every sparse vector is indexed (the dense ones are below the HNSW
    // threshold, as in Qdrant's small segments).
    const sparseCount = POINTS.filter((p) => p.vector.text).length + POINTS.filter((p) => p.vector.kw).length;
    assert.equal((await client.getCollection(C)).indexed_vectors_count, sparseCount);
});

step('retrieve returns sparse vectors sorted by index', async () => {
    const got = await client.retrieve(C, { ids: [1, 2, 7], with_vector: true });
    assert.equal(got.length, 3);
    for (const g of got) {
        const p = POINTS.find((x) => x.id === g.id);
        for (const name of ['text', 'kw']) {
            if (!p.vector[name]) {
                assert.equal(g.vector[name], undefined, `point ${g.id} has no ${name}`);
                continue;
            }
            const want = sortedCopy(p.vector[name]);
            assert.deepEqual(g.vector[name].indices, want.indices);
            g.vector[name].values.forEach((x, j) => assert.ok(Math.abs(x - want.values[j]) < 1e-6));
        }
    }
});

step('query a sparse vector with idf, with and without a filter', async () => {
    for (let t = 0; t < 8; t++) {
        const q = sparse(30, 1 + (t % 4));
        const got = await client.query(C, { query: q, using: 'text', limit: 7 });
        assertRanking(got.points, oracle('text', q, { idf: true, limit: 7 }), `query ${t}`);
        const f = await client.query(C, {
            query: q,
            using: 'text',
            limit: 5,
            filter: { must: [{ key: 'group', match: { value: 1 } }] },
            with_payload: true,
        });
        assertRanking(
            f.points,
            oracle('text', q, { idf: true, limit: 5, filter: (p) => p.payload.group === 1 }),
            `filtered query ${t}`,
        );
        for (const p of f.points) assert.equal(p.payload.group, 1);
    }
});

step('legacy search and nearest on a sparse vector without modifier', async () => {
    const q = { indices: [1, 3, 5], values: [1, 0.5, 2] };
    const want = oracle('kw', q, { limit: 4 });
    const s = await client.search(C, { vector: { name: 'kw', vector: q }, limit: 4 });
    assertRanking(s, want, 'search');
    const n = await client.query(C, { query: { nearest: q }, using: 'kw', limit: 4 });
    assertRanking(n.points, want, 'nearest');
    const exact = await client.query(C, { query: q, using: 'kw', limit: 4, params: { exact: true } });
    assertRanking(exact.points, want, 'exact');
    // By id: point 2's own kw vector, point 2 itself left out.
    const byId = await client.query(C, { query: 2, using: 'kw', limit: 4 });
    const own = POINTS.find((p) => p.id === 2).vector.kw;
    assertRanking(byId.points, oracle('kw', own, { limit: 5 }).filter((h) => h.id !== 2).slice(0, 4), 'by id');
});

step('update and delete sparse vectors', async () => {
    const v = { indices: [29, 28], values: [5, 4] };
    await client.updateVectors(C, { wait: true, points: [{ id: 7, vector: { text: v } }] });
    POINTS.find((p) => p.id === 7).vector.text = v;
    await client.deleteVectors(C, { wait: true, points: [1, 2], vector: ['text'] });
    delete POINTS.find((p) => p.id === 1).vector.text;
    delete POINTS.find((p) => p.id === 2).vector.text;
    const q = { indices: [29, 0, 1], values: [1, 1, 1] };
    const got = await client.query(C, { query: q, using: 'text', limit: 10 });
    assertRanking(got.points, oracle('text', q, { idf: true, limit: 10 }), 'after updates');
    assert.equal(got.points[0].id, 7);
    const r = await client.retrieve(C, { ids: [1], with_vector: true });
    assert.equal(r[0].vector.text, undefined);
});

step('malformed sparse vectors get Qdrant errors', async () => {
    let msg = await expectHttpError(422, () =>
        client.upsert(C, { wait: true, points: [{ id: 100, vector: { text: { indices: [1, 1], values: [1, 2] } } }] }),
    );
    assert.match(msg, /points\[0\]\.vector\.\?\.indices: Validation error: must be unique/);
    msg = await expectHttpError(422, () =>
        client.upsert(C, { wait: true, points: [{ id: 100, vector: { text: { indices: [1, 2], values: [1] } } }] }),
    );
    assert.match(msg, /points\[0\]\.vector\.\?\.values: Validation error: must be the same length as indices/);
    msg = await expectHttpError(400, () =>
        client.upsert(C, { wait: true, points: [{ id: 100, vector: { nope: { indices: [1], values: [1] } } }] }),
    );
    assert.match(msg, /Not existing vector name/);
    msg = await expectHttpError(400, () =>
        client.createCollection('js_sparse_bad', {
            vectors: { a: { size: 2, distance: 'Dot' } },
            sparse_vectors: { a: {} },
        }),
    );
    assert.match(msg, /Dense and sparse vector names must be unique/);
    assert.equal((await client.count(C, { exact: true })).count, POINTS.length);
});

// MurmurHash3_x86_32, written here from the published algorithm, for the
// token ids of the qdrant/bm25 model: |mmh3.hash(token)| (fastembed).
function murmur3(str) {
    const bytes = new TextEncoder().encode(str);
    const c1 = 0xcc9e2d51;
    const c2 = 0x1b873593;
    let h = 0;
    const nb = bytes.length >> 2;
    for (let i = 0; i < nb; i++) {
        let k = bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) | (bytes[4 * i + 3] << 24);
        k = Math.imul(k, c1);
        k = (k << 15) | (k >>> 17);
        k = Math.imul(k, c2);
        h ^= k;
        h = (h << 13) | (h >>> 19);
        h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    let k = 0;
    const t = nb * 4;
    switch (bytes.length & 3) {
        case 3:
            k ^= bytes[t + 2] << 16;
        // falls through
        case 2:
            k ^= bytes[t + 1] << 8;
        // falls through
        case 1:
            k ^= bytes[t];
            k = Math.imul(k, c1);
            k = (k << 15) | (k >>> 17);
            k = Math.imul(k, c2);
            h ^= k;
    }
    h ^= bytes.length;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return Math.abs(h | 0);
}

const B = 'js_bm25';
const DOCS = {
    1: 'The cats are running fast',
    2: 'Dogs chase cats; cats run.',
    3: 'A quiet afternoon',
};
// Their tokens after stopwords and Snowball stemming, by hand.
const STEMS = { 1: ['cat', 'run', 'fast'], 2: ['dog', 'chase', 'cat', 'cat', 'run'], 3: ['quiet', 'afternoon'] };

function bm25Doc(stems, k = 1.2, b = 0.75, avg = 256) {
    const tf = new Map();
    for (const s of stems) tf.set(s, (tf.get(s) ?? 0) + 1);
    const out = new Map();
    for (const [s, n] of tf) out.set(murmur3(s), (n * (k + 1)) / (n + k * (1 - b + (b * stems.length) / avg)));
    return out;
}

step('qdrant/bm25 Documents: stored vectors and text queries', async () => {
    await client.deleteCollection(B).catch(() => {});
    await client.createCollection(B, {
        vectors: { dense: { size: 2, distance: 'Dot' } },
        sparse_vectors: { bm25: { modifier: 'idf' } },
    });
    await client.upsert(B, {
        wait: true,
        points: Object.entries(DOCS).map(([id, text]) => ({
            id: Number(id),
            vector: { dense: [1, Number(id)], bm25: { text, model: 'qdrant/bm25' } },
        })),
    });
    const got = await client.retrieve(B, { ids: [1, 2, 3], with_vector: true });
    const stored = {};
    for (const g of got) {
        const want = bm25Doc(STEMS[g.id]);
        const v = g.vector.bm25;
        assert.deepEqual(v.indices, [...want.keys()].sort((a, b) => a - b), `point ${g.id} indices`);
        v.indices.forEach((d, j) => assert.ok(Math.abs(v.values[j] - want.get(d)) < 1e-5, `point ${g.id} value`));
        stored[g.id] = want;
    }
    // A text query: each query token weighs 1, times its IDF over 3 points.
    const res = await client.query(B, { query: { text: 'Running cat!', model: 'qdrant/bm25' }, using: 'bm25' });
    const idf = (df) => Math.log((3 - df + 0.5) / (df + 0.5) + 1);
    const cat = murmur3('cat');
    const run = murmur3('run');
    const expect = [1, 2]
        .map((id) => ({ id, score: idf(2) * stored[id].get(cat) + idf(2) * stored[id].get(run) }))
        .sort((a, b) => b.score - a.score);
    assertRanking(res.points, expect, 'bm25 query');
    const msg = await expectHttpError(400, () =>
        client.query(B, { query: { text: 'x', model: 'some/dense-model' }, using: 'bm25' }),
    );
    assert.match(msg, /inference service/);
    assert.equal(await client.deleteCollection(B), true);
});

step('a collection snapshot restores the sparse vectors', async () => {
    const headers = { 'api-key': API_KEY, 'content-type': 'application/json' };
    const made = await fetch(`${URL_}/collections/${C}/snapshots?wait=true`, { method: 'POST', headers });
    assert.equal(made.status, 200);
    const name = (await made.json()).result.name;
    await client.upsert(C, { wait: true, points: [{ id: 999, vector: { text: { indices: [29], values: [9] } } }] });
    const back = await fetch(`${URL_}/collections/${C}/snapshots/recover?wait=true`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ location: name }),
    });
    assert.equal(back.status, 200, await back.clone().text());
    assert.equal((await client.count(C, { exact: true })).count, POINTS.length);
    const q = { indices: [29, 0, 1], values: [1, 1, 1] };
    const got = await client.query(C, { query: q, using: 'text', limit: 10 });
    assertRanking(got.points, oracle('text', q, { idf: true, limit: 10 }), 'after restore');
});

step('hybrid: a dense and a sparse prefetch fused by rrf', async () => {
    const q = { indices: [1, 3, 5, 7], values: [1, 1, 1, 1] };
    const dq = [0.3, 0.5, 0.2];
    const norm = (v) => Math.hypot(...v);
    const cos = (v) => v.reduce((s, x, i) => s + Math.fround(x) * dq[i], 0) / (norm(v) * norm(dq));
    const sparseList = oracle('text', q, { idf: true, limit: 10 });
    const denseList = POINTS.map((p) => ({ id: p.id, score: cos(p.vector.dense) }))
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, 10);
    // Qdrant's RRF with its default k = 2: 1 / (position + 2), summed.
    const fused = new Map();
    for (const list of [sparseList, denseList]) {
        list.forEach((h, pos) => fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (pos + 2)));
    }
    const expect = [...fused]
        .map(([id, score]) => ({ id, score }))
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, 5);
    const got = await client.query(C, {
        prefetch: [
            { query: q, using: 'text', limit: 10 },
            { query: dq, using: 'dense', limit: 10 },
        ],
        query: { fusion: 'rrf' },
        limit: 5,
    });
    assertRanking(got.points, expect, 'rrf');
    // A sparse leaf re-scored by the dense vector, under a filter.
    const rescored = await client.query(C, {
        prefetch: { query: q, using: 'text', limit: 10 },
        query: dq,
        using: 'dense',
        filter: { must: [{ key: 'group', match: { value: 0 } }] },
        limit: 3,
    });
    const inner = oracle('text', q, { idf: true, limit: 10, filter: (p) => p.payload.group === 0 }).map((h) => h.id);
    const want = POINTS.filter((p) => inner.includes(p.id))
        .map((p) => ({ id: p.id, score: cos(p.vector.dense) }))
        .sort((a, b) => b.score - a.score || a.id - b.id)
        .slice(0, 3);
    assertRanking(rescored.points, want, 'rescore');
});

step('drop the collection', async () => {
    assert.equal(await client.deleteCollection(C), true);
    await settle();
});
