// qdrant-js.test.mjs -- the official Qdrant JavaScript client against
// `quiver serve`, one scenario through every client method that maps to an
// endpoint Quiver implements.
//
// The steps run in order and share two collections: js_cos (one unnamed
// Cosine vector, integer and UUID ids) and js_named (named Dot, Euclid and
// Manhattan vectors).  Expected scores come from the brute-force oracle in
// harness.mjs, computed from the uploaded vectors with Qdrant's semantics,
// so every search assertion checks ids, order and scores; payload and
// vector assertions compare whole values.  The scenario is written against
// Qdrant 1.19's behaviour: it should pass unchanged against a real Qdrant
// started with the same API key.
//
// Run through tests/clients/run.sh (QUIVER_URL, QUIVER_API_KEY and
// optionally QUIVER_RESPONSE_LOG in the environment).

import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import {
    API_KEY,
    URL_,
    assertRanking,
    assertVector,
    dot,
    eventually,
    expectHttpError,
    f32,
    normalize,
    rank,
    rankBy,
    settle,
    step,
    warnings,
} from './harness.mjs';

const COS = 'js_cos';
const NAMED = 'js_named';
const ALIAS = 'js_alias';
const ALIAS2 = 'js_alias_renamed';
const MISSING = 'js_missing';

// UUIDs as uploaded (two of Qdrant's accepted spellings) and as returned.
const U1_IN = '5C56C793-69F3-4FBF-87E6-C4BF54C28C05';
const U1 = '5c56c793-69f3-4fbf-87e6-c4bf54c28c05';
const U2_IN = '0e3fa4a1b2c34d5e8f9012a3b4c5d6e7';
const U2 = '0e3fa4a1-b2c3-4d5e-8f90-12a3b4c5d6e7';
const UN = '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d';

const P = [
    {
        id: 1,
        vector: [0.9, 0.1, 0.2, 0.05],
        payload: { city: 'Berlin', price: 10, tags: ['a', 'b'], stock: 3, meta: { color: 'red', size: 1 } },
    },
    { id: 2, vector: [0.7, 0.6, 0.1, 0.1], payload: { city: 'London', price: 20, tags: ['b'], stock: 0 } },
    { id: 3, vector: [0.1, 0.95, 0.2, 0.3], payload: { city: 'Berlin', price: 30, tags: [], stock: 7 } },
    { id: 4, vector: [0.05, 0.2, 0.9, 0.4], payload: { city: 'Paris', price: 40, stock: 1 } },
    { id: 5, vector: [0.4, 0.45, 0.5, 0.55], payload: { city: 'London', price: 50, tags: ['a'] } },
    { id: 6, vector: [-0.8, 0.3, -0.1, 0.2], payload: { city: 'Paris', price: 60 } },
    { id: U1, vector: [0.3, -0.2, 0.8, 0.1], payload: { city: 'Rome', price: 70 } },
    { id: U2, vector: [0.2, 0.1, 0.1, 0.9], payload: { city: 'Rome', price: 80, stock: 2 } },
];
const byId = (id) => P.find((p) => p.id === id);
// What the server stores for a Cosine collection: the normalised vector.
const stored = (id) => normalize(f32(byId(id).vector));

const N = [
    { id: 1, vector: { img: [1, 0, 0.5, 0], txt: [0, 0], loc: [0, 0] }, payload: { kind: 'a' } },
    { id: 2, vector: { img: [0.5, 0.5, 0.5, 0.5], txt: [1, 0], loc: [1, 1] }, payload: { kind: 'b' } },
    { id: 3, vector: { img: [0, 1, 0, 2], txt: [1, 1], loc: [3, 0] }, payload: { kind: 'a' } },
    { id: UN, vector: { img: [0.3, 0.3, 0.3, 0.3], txt: [2, 2], loc: [-1, 0.5] }, payload: { kind: 'b' } },
    { id: 10, vector: { img: [2, 0.1, 0, 0.3] }, payload: { kind: 'c' } },
];
// The points of js_named that have vector `name`, as the oracle wants them.
const named = (name, pts = N) =>
    pts.filter((p) => p.vector[name]).map((p) => ({ id: p.id, vector: p.vector[name] }));

const Q = [0.8, 0.3, 0.3, 0.1];
const cityIs = (c) => ({ must: [{ key: 'city', match: { value: c } }] });
const ids = (pts) => pts.map((p) => p.id);

let client; // with the right API key

function assertUpdate(res, status = 'completed') {
    assert.equal(res.status, status, `UpdateResult ${JSON.stringify(res)}`);
    if (res.operation_id !== undefined && res.operation_id !== null) {
        assert.ok(Number.isInteger(res.operation_id) && res.operation_id >= 0, JSON.stringify(res));
    }
}

async function payloadOf(id) {
    const [rec] = await client.retrieve(COS, { ids: [id], with_payload: true });
    assert.ok(rec, `point ${id} not found`);
    return rec.payload;
}

// ---- service -----------------------------------------------------------------

step('service: version, health probes, compatibility check', async () => {
    warnings.length = 0;
    client = new QdrantClient({ url: URL_, apiKey: API_KEY }); // checkCompatibility on
    const info = await client.versionInfo();
    assert.equal(info.title, 'qdrant - vector search engine');
    assert.match(info.version, /^1\.19\.\d+$/, `version ${info.version}`);
    assert.match(String(info.commit), /^[0-9a-f]{40}$/, `commit ${info.commit}`);
    await settle(); // the constructor's own GET / has answered
    const bad = warnings.filter((w) => /incompatible|Failed to obtain server version/i.test(w));
    assert.deepEqual(bad, [], 'the client warned about the server version');

    const api = client.api();
    assert.equal((await api.healthz({})).data, 'healthz check passed');
    assert.equal((await api.livez({})).data, 'healthz check passed');
    assert.equal((await api.readyz({})).data, 'all shards are ready');
    const metrics = (await api.metrics({})).data;
    assert.equal(typeof metrics, 'string');
    assert.match(metrics, /^# TYPE /m, 'Prometheus text format');
});

step('auth: wrong key and no key are refused, Bearer and / are accepted', async (t) => {
    if (!API_KEY) {
        t.skip('QUIVER_API_KEY not set');
        return;
    }
    const wrong = new QdrantClient({ url: URL_, apiKey: `${API_KEY}-wrong`, checkCompatibility: false });
    await expectHttpError(401, () => wrong.getCollections());
    await expectHttpError(401, () => wrong.collectionExists(COS));
    const none = new QdrantClient({ url: URL_, checkCompatibility: false });
    await expectHttpError(401, () => none.getCollections());
    // GET / needs no key, so the version check works before auth.
    assert.equal((await none.versionInfo()).title, 'qdrant - vector search engine');
    const bearer = new QdrantClient({
        url: URL_,
        headers: { Authorization: `Bearer ${API_KEY}` },
        checkCompatibility: false,
    });
    assert.ok(Array.isArray((await bearer.getCollections()).collections));
});

// ---- collections ---------------------------------------------------------------

step('collections: create unnamed and named, exists, list, get, errors', async () => {
    for (const c of [COS, NAMED]) {
        if ((await client.collectionExists(c)).exists) await client.deleteCollection(c);
    }
    assert.deepEqual(await client.collectionExists(COS), { exists: false });
    const before = (await client.getCollections()).collections.map((c) => c.name);
    assert.ok(!before.includes(COS));

    assert.equal(
        await client.createCollection(COS, {
            vectors: { size: 4, distance: 'Cosine' },
            hnsw_config: { m: 8, ef_construct: 50 },
        }),
        true,
    );
    assert.equal(
        await client.createCollection(NAMED, {
            vectors: {
                img: { size: 4, distance: 'Dot' },
                txt: { size: 2, distance: 'Euclid' },
                loc: { size: 2, distance: 'Manhattan' },
            },
        }),
        true,
    );
    assert.deepEqual(await client.collectionExists(COS), { exists: true });
    const names = (await client.getCollections()).collections.map((c) => c.name);
    assert.ok(names.includes(COS) && names.includes(NAMED), `collections: ${names}`);

    const info = await client.getCollection(COS);
    assert.equal(info.status, 'green');
    assert.equal(info.optimizer_status, 'ok');
    assert.equal(info.points_count, 0);
    assert.deepEqual(info.payload_schema, {});
    assert.equal(info.config.params.vectors.size, 4);
    assert.equal(info.config.params.vectors.distance, 'Cosine');
    assert.equal(info.config.hnsw_config.m, 8);
    assert.equal(info.config.hnsw_config.ef_construct, 50);
    assert.equal(typeof info.config.hnsw_config.full_scan_threshold, 'number');

    const ninfo = await client.getCollection(NAMED);
    const v = ninfo.config.params.vectors;
    assert.deepEqual(
        Object.fromEntries(Object.entries(v).map(([k, p]) => [k, [p.size, p.distance]])),
        { img: [4, 'Dot'], txt: [2, 'Euclid'], loc: [2, 'Manhattan'] },
    );

    const dup = await expectHttpError(409, () =>
        client.createCollection(COS, { vectors: { size: 4, distance: 'Cosine' } }),
    );
    assert.match(dup, /already exists/);
    const missing = await expectHttpError(404, () => client.getCollection(MISSING));
    assert.equal(missing, `Not found: Collection \`${MISSING}\` doesn't exist!`);
});

// ---- points ---------------------------------------------------------------------

step('upsert: points and batch forms, integer and UUID ids, replace on re-upsert', async () => {
    // Point 5 first goes in with other data; the last upsert replaces it whole.
    const first = P.slice(0, 5).map((p) =>
        p.id === 5 ? { id: 5, vector: [1, 1, 1, 1], payload: { city: 'Oslo', old: true } } : p,
    );
    assertUpdate(await client.upsert(COS, { wait: true, points: first }));
    const batch = [byId(6), byId(U1), byId(U2)];
    assertUpdate(
        await client.upsert(COS, {
            wait: true,
            batch: {
                ids: [6, U1_IN, U2_IN],
                vectors: batch.map((p) => p.vector),
                payloads: batch.map((p) => p.payload),
            },
        }),
    );
    assertUpdate(await client.upsert(COS, { wait: true, points: [byId(5)] }));
    assert.deepEqual(await client.count(COS, {}), { count: 8 });
    assert.equal((await client.getCollection(COS)).points_count, 8);

    const dim = await expectHttpError(400, () =>
        client.upsert(COS, { wait: true, points: [{ id: 99, vector: [1, 2, 3] }] }),
    );
    assert.match(dim, /expected dim: 4, got 3/);
    assert.deepEqual(await client.count(COS, {}), { count: 8 });

    // The named collection: batch form with named vectors, then a point
    // that has only one of them.
    const nb = N.slice(0, 4);
    assertUpdate(
        await client.upsert(NAMED, {
            wait: true,
            batch: {
                ids: nb.map((p) => p.id),
                vectors: {
                    img: nb.map((p) => p.vector.img),
                    txt: nb.map((p) => p.vector.txt),
                    loc: nb.map((p) => p.vector.loc),
                },
                payloads: nb.map((p) => p.payload),
            },
        }),
    );
    assertUpdate(await client.upsert(NAMED, { wait: true, points: [N[4]] }));
    assert.deepEqual(await client.count(NAMED, {}), { count: 5 });
});

step('retrieve and GET /points/{id}: payloads, normalised vectors, UUID spelling', async () => {
    const recs = await client.retrieve(COS, { ids: [5, U1_IN, 424242, U2], with_vector: true });
    const sorted = [...recs].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    assert.deepEqual(
        sorted.map((r) => r.id),
        [U2, 5, U1].sort((a, b) => String(a).localeCompare(String(b))),
    );
    for (const r of recs) {
        assert.deepEqual(r.payload, byId(r.id).payload, `payload of ${r.id}`);
        assertVector(r.vector, stored(r.id), `stored vector of ${r.id} (normalised for Cosine)`);
    }
    // Defaults: payload yes, vector no.
    const [plain] = await client.retrieve(COS, { ids: [3] });
    assert.deepEqual(plain.payload, byId(3).payload);
    assert.equal(plain.vector ?? null, null);
    const [none] = await client.retrieve(COS, { ids: [3], with_payload: false });
    assert.equal(none.payload ?? null, null);

    const one = (await client.api().getPoint({ collection_name: COS, id: U1 })).data.result;
    assert.equal(one.id, U1);
    assert.deepEqual(one.payload, byId(U1).payload);
    assertVector(one.vector, stored(U1), 'GET point vector');
    const int = (await client.api().getPoint({ collection_name: COS, id: 2 })).data.result;
    assert.equal(int.id, 2);
    const msg = await expectHttpError(404, () => client.api().getPoint({ collection_name: COS, id: 999 }));
    assert.match(msg, /999/);

    const [n10] = await client.retrieve(NAMED, { ids: [10], with_vector: true });
    assert.deepEqual(Object.keys(n10.vector), ['img']);
    assertVector(n10.vector.img, N[4].vector.img, 'Dot vectors are stored as given');
});

step('payload indexes: create keyword and integer, listed in payload_schema', async () => {
    assertUpdate(
        await client.createPayloadIndex(COS, { wait: true, field_name: 'city', field_schema: 'keyword' }),
    );
    assertUpdate(
        await client.createPayloadIndex(COS, { wait: true, field_name: 'price', field_schema: 'integer' }),
    );
    const schema = (await client.getCollection(COS)).payload_schema;
    assert.equal(schema.city?.data_type, 'keyword', JSON.stringify(schema));
    assert.equal(schema.price?.data_type, 'integer', JSON.stringify(schema));
});

step('scroll: pages by id, filter, payload and vector selection', async () => {
    let page = await client.scroll(COS, { limit: 3 });
    assert.deepEqual(ids(page.points), [1, 2, 3]);
    assert.equal(page.next_page_offset, 4);
    assert.deepEqual(page.points[0].payload, byId(1).payload);
    assert.equal(page.points[0].vector ?? null, null);
    page = await client.scroll(COS, { limit: 3, offset: page.next_page_offset });
    assert.deepEqual(ids(page.points), [4, 5, 6]);
    // Integer ids first, then UUIDs in byte order.
    assert.equal(page.next_page_offset, U2);
    page = await client.scroll(COS, { limit: 3, offset: page.next_page_offset });
    assert.deepEqual(ids(page.points), [U2, U1]);
    assert.equal(page.next_page_offset ?? null, null);

    page = await client.scroll(COS, { filter: cityIs('Berlin'), with_payload: ['city', 'price'] });
    assert.deepEqual(ids(page.points), [1, 3]);
    assert.deepEqual(page.points[1].payload, { city: 'Berlin', price: 30 });
    assert.equal(page.next_page_offset ?? null, null);

    page = await client.scroll(COS, { limit: 2, with_payload: false, with_vector: true });
    assert.equal(page.points[0].payload ?? null, null);
    assertVector(page.points[1].vector, stored(2), 'scroll with_vector');
});

step('order_by: scroll and query sorted by an indexed payload field', async () => {
    let page = await client.scroll(COS, { limit: 3, order_by: { key: 'price', direction: 'desc' } });
    assert.deepEqual(ids(page.points), [U2, U1, 6]);
    assert.deepEqual(
        page.points.map((p) => p.order_value),
        [80, 70, 60],
    );
    assert.deepEqual(page.points[0].payload, byId(U2).payload);
    assert.equal(page.next_page_offset ?? null, null, 'no next page offset with order_by');
    page = await client.scroll(COS, { limit: 2, order_by: 'price' });
    assert.deepEqual(ids(page.points), [1, 2]);
    page = await client.scroll(COS, {
        limit: 3,
        order_by: { key: 'price', direction: 'asc', start_from: 35 },
    });
    assert.deepEqual(ids(page.points), [4, 5, 6]);
    page = await client.scroll(COS, {
        filter: cityIs('London'),
        order_by: { key: 'price', direction: 'desc' },
    });
    assert.deepEqual(ids(page.points), [5, 2]);

    const res = await client.query(COS, {
        query: { order_by: { key: 'price', direction: 'desc' } },
        limit: 2,
        with_payload: ['price'],
    });
    assert.deepEqual(ids(res.points), [U2, U1]);
    assert.deepEqual(
        res.points.map((p) => p.payload),
        [{ price: 80 }, { price: 70 }],
    );
});

step('count: whole collection and filters', async () => {
    const count = async (filter, exact = true) => (await client.count(COS, { filter, exact })).count;
    assert.equal(await count(undefined), 8);
    assert.equal(await count(undefined, false), 8);
    assert.equal(await count(cityIs('Berlin')), 2);
    assert.equal(await count({ must: [{ key: 'price', range: { gte: 20, lt: 50 } }] }), 3);
    assert.equal(await count({ must_not: [{ key: 'city', match: { value: 'Paris' } }] }), 6);
    assert.equal(
        await count({
            should: [
                { key: 'city', match: { value: 'Rome' } },
                { key: 'city', match: { value: 'London' } },
            ],
        }),
        4,
    );
    assert.equal(await count({ must: [{ key: 'city', match: { any: ['Paris', 'Rome'] } }] }), 4);
    assert.equal(await count({ must: [{ has_id: [1, U1_IN, 777] }] }), 2);
    assert.equal(await count({ must: [{ key: 'meta.color', match: { value: 'red' } }] }), 1);
    assert.equal(await count({ must: [{ key: 'tags', match: { value: 'a' } }] }), 2);
    assert.equal(await count({ must: [{ is_empty: { key: 'tags' } }] }), 5);
});

step('facet: counts per city from the keyword index, as count reports them', async () => {
    const res = await client.facet(COS, { key: 'city', limit: 10, exact: true });
    assert.ok(res.hits.length >= 2, 'several cities');
    for (let i = 1; i < res.hits.length; i++) {
        const [a, b] = [res.hits[i - 1], res.hits[i]];
        assert.ok(a.count > b.count || (a.count === b.count && a.value < b.value), 'Qdrant order');
    }
    for (const h of res.hits) {
        const n = (await client.count(COS, { filter: cityIs(h.value), exact: true })).count;
        assert.equal(h.count, n, `facet count of ${h.value}`);
    }
    const one = await client.facet(COS, { key: 'city', limit: 1, filter: cityIs('Rome') });
    assert.deepEqual(one.hits, [{ value: 'Rome', count: 2 }]);
    await assert.rejects(client.facet(COS, { key: 'stock' }), (e) => {
        assert.equal(e.status, 400);
        assert.match(e.data.status.error, /^Bad request: No appropriate index for faceting: `stock`/);
        return true;
    });
});

step('distance matrix: pairs and offsets over the whole collection', async () => {
    const n = (await client.count(COS, { exact: true })).count;
    const pairs = await client.searchMatrixPairs(COS, { sample: 100, limit: 2 });
    assert.equal(pairs.pairs.length, 2 * n);
    for (const p of pairs.pairs) assert.notDeepEqual(p.a, p.b, 'a point is not its own neighbour');
    const off = await client.searchMatrixOffsets(COS, { sample: 100, limit: 2 });
    assert.equal(off.ids.length, n);
    assert.deepEqual(off.scores, pairs.pairs.map((p) => p.score));
    assert.deepEqual(
        off.offsets_col.map((c) => off.ids[c]),
        pairs.pairs.map((p) => p.b),
    );
});

// ---- query (universal API) ---------------------------------------------------------

step('query: nearest vector, limit, offset, score_threshold, filter, params', async () => {
    const all = rank('Cosine', Q, P, { limit: 8 });
    let res = await client.query(COS, { query: Q, limit: 8 });
    assertRanking(res.points, all, 'nearest, all points');
    for (const p of res.points) {
        assert.equal(p.payload ?? null, null, 'query does not return payload by default');
        assert.equal(p.vector ?? null, null, 'query does not return vectors by default');
        assert.ok(Number.isInteger(p.version) && p.version >= 0, 'ScoredPoint.version');
    }
    res = await client.query(COS, { query: Q, limit: 3, offset: 2 });
    assertRanking(res.points, rank('Cosine', Q, P, { limit: 3, offset: 2 }), 'offset 2');

    const t = (all[2].score + all[3].score) / 2;
    res = await client.query(COS, { query: Q, limit: 8, score_threshold: t });
    assertRanking(res.points, rank('Cosine', Q, P, { limit: 8, threshold: t }), `score_threshold ${t}`);
    assert.equal(res.points.length, 3);

    const londonOrBerlin = { must: [{ key: 'city', match: { any: ['Berlin', 'London'] } }] };
    const subset = P.filter((p) => ['Berlin', 'London'].includes(p.payload.city));
    res = await client.query(COS, { query: Q, limit: 3, filter: londonOrBerlin });
    assertRanking(res.points, rank('Cosine', Q, subset, { limit: 3 }), 'with filter');

    res = await client.query(COS, { query: Q, limit: 4, params: { hnsw_ef: 64, exact: true } });
    assertRanking(res.points, rank('Cosine', Q, P, { limit: 4 }), 'exact');
    res = await client.query(COS, { query: { nearest: Q }, limit: 4, params: { hnsw_ef: 64 } });
    assertRanking(res.points, rank('Cosine', Q, P, { limit: 4 }), '{nearest: v}');
});

step('query: with_payload include/exclude/list and with_vector', async () => {
    const top = rank('Cosine', Q, P, { limit: 3 });
    const check = async (with_payload, pick) => {
        const res = await client.query(COS, { query: Q, limit: 3, with_payload });
        assertRanking(res.points, top, `with_payload ${JSON.stringify(with_payload)}`);
        for (const p of res.points) {
            assert.deepEqual(p.payload, pick(byId(p.id).payload), `payload of ${p.id}`);
        }
    };
    const only = (keys) => (pl) => Object.fromEntries(Object.entries(pl).filter(([k]) => keys.includes(k)));
    const without = (keys) => (pl) => Object.fromEntries(Object.entries(pl).filter(([k]) => !keys.includes(k)));
    await check(true, (pl) => pl);
    await check(['city', 'stock'], only(['city', 'stock']));
    await check({ include: ['price'] }, only(['price']));
    await check({ exclude: ['tags', 'meta', 'stock'] }, without(['tags', 'meta', 'stock']));

    const res = await client.query(COS, { query: Q, limit: 3, with_vector: true });
    for (const p of res.points) assertVector(p.vector, stored(p.id), `vector of ${p.id}`);
});

step('query: by point id, recommend, lookup_from', async () => {
    // Nearest to a stored point: that point is left out.
    let res = await client.query(COS, { query: 1, limit: 3 });
    assertRanking(res.points, rank('Cosine', stored(1), P, { limit: 3, exclude: [1] }), 'query by id 1');
    res = await client.query(COS, { query: U1_IN, limit: 3 });
    assertRanking(res.points, rank('Cosine', stored(U1), P, { limit: 3, exclude: [U1] }), 'query by UUID');

    // average_vector: avg(positive) + avg(positive) - avg(negative).
    const target = stored(1).map((x, i) => x + stored(2)[i] - stored(6)[i]);
    res = await client.query(COS, {
        query: { recommend: { positive: [1, 2], negative: [6] } },
        limit: 4,
    });
    assertRanking(res.points, rank('Cosine', target, P, { limit: 4, exclude: [1, 2, 6] }), 'recommend');
    res = await client.query(COS, {
        query: { recommend: { positive: [1, 2], negative: [6], strategy: 'average_vector' } },
        limit: 2,
        filter: cityIs('London'),
        with_payload: true,
    });
    const london = P.filter((p) => p.payload.city === 'London');
    assertRanking(res.points, rank('Cosine', target, london, { limit: 2, exclude: [1, 2, 6] }), 'recommend+filter');
    assert.deepEqual(res.points[0]?.payload, byId(5).payload);

    // sum_scores: similarity to each positive minus to each negative.
    const cos = (id) => (v) => dot(stored(id), normalize(v));
    const sum = (v) => cos(1)(v) + cos(4)(v) - cos(6)(v);
    res = await client.query(COS, {
        query: { recommend: { positive: [1, 4], negative: [6], strategy: 'sum_scores' } },
        limit: 5,
    });
    assertRanking(res.points, rankBy(sum, P, { limit: 5, exclude: [1, 4, 6] }), 'recommend sum_scores');
    // best_score: the best positive similarity when it beats every negative
    // one, else minus the best negative one, both through Qdrant's sigmoid;
    // only the order is compared, and the sign of each score.
    const best = (v) => {
        const pos = Math.max(cos(1)(v), cos(4)(v));
        const neg = cos(6)(v);
        return pos > neg ? 1 + pos : -1 - neg;
    };
    res = await client.query(COS, {
        query: { recommend: { positive: [1, 4], negative: [6], strategy: 'best_score' } },
        limit: 5,
    });
    const want = rankBy(best, P, { limit: 5, exclude: [1, 4, 6] });
    assert.deepEqual(ids(res.points), ids(want), 'recommend best_score order');
    assert.deepEqual(
        res.points.map((p) => Math.sign(p.score)),
        want.map((p) => Math.sign(p.score)),
        'best_score is positive where a positive example wins',
    );

    // The query vector is point 1's "img" vector in js_named; point 1 of
    // js_cos is another point and may be returned.
    res = await client.query(COS, {
        query: 1,
        lookup_from: { collection: NAMED, vector: 'img' },
        limit: 3,
    });
    assertRanking(res.points, rank('Cosine', N[0].vector.img, P, { limit: 3 }), 'lookup_from');
    assert.ok(
        ids(res.points).includes(1),
        'the looked-up id is not excluded from another collection',
    );

});

step('queryBatch: answers in request order', async () => {
    const res = await client.queryBatch(COS, {
        searches: [
            { query: Q, limit: 2 },
            { query: 3, limit: 5, filter: cityIs('Berlin'), with_payload: true },
            { query: [0, 0, 1, 0], limit: 1 },
        ],
    });
    assert.equal(res.length, 3);
    assertRanking(res[0].points, rank('Cosine', Q, P, { limit: 2 }), 'batch[0]');
    assert.deepEqual(ids(res[1].points), [1], 'batch[1]: Berlin without point 3 itself');
    assert.ok(Math.abs(res[1].points[0].score - dot(stored(1), stored(3))) < 1e-4);
    assert.deepEqual(res[1].points[0].payload, byId(1).payload);
    assertRanking(res[2].points, rank('Cosine', [0, 0, 1, 0], P, { limit: 1 }), 'batch[2]');
});

// ---- legacy search API (documented in Qdrant 1.18, still served) -----------------

step('legacy search, searchBatch, recommend, recommendBatch', async () => {
    let res = await client.search(COS, { vector: Q, limit: 3 });
    assertRanking(res, rank('Cosine', Q, P, { limit: 3 }), 'search');
    for (const p of res) assert.deepEqual(p.payload, byId(p.id).payload, 'search returns payload');

    const t = rank('Cosine', Q, P, { limit: 8 });
    const thr = (t[4].score + t[5].score) / 2;
    res = await client.search(COS, {
        vector: Q,
        limit: 3,
        offset: 1,
        score_threshold: thr,
        with_payload: false,
        with_vector: true,
    });
    assertRanking(res, rank('Cosine', Q, P, { limit: 3, offset: 1, threshold: thr }), 'search offset+threshold');
    for (const p of res) {
        assert.equal(p.payload ?? null, null);
        assertVector(p.vector, stored(p.id), `search vector of ${p.id}`);
    }
    res = await client.search(COS, { vector: Q, limit: 5, filter: cityIs('Rome') });
    assertRanking(
        res,
        rank('Cosine', Q, P.filter((p) => p.payload.city === 'Rome'), { limit: 5 }),
        'search with filter',
    );

    const q2 = [0.9, 0.2];
    res = await client.search(NAMED, { vector: { name: 'txt', vector: q2 }, limit: 10 });
    assertRanking(res, rank('Euclid', q2, named('txt'), { limit: 10 }), 'search named vector');

    const batch = await client.searchBatch(COS, {
        searches: [
            { vector: Q, limit: 2 },
            { vector: [0, 1, 0, 0], limit: 2, filter: cityIs('Berlin'), with_payload: true },
        ],
    });
    assert.equal(batch.length, 2);
    assertRanking(batch[0], rank('Cosine', Q, P, { limit: 2 }), 'searchBatch[0]');
    assertRanking(
        batch[1],
        rank('Cosine', [0, 1, 0, 0], P.filter((p) => p.payload.city === 'Berlin'), { limit: 2 }),
        'searchBatch[1]',
    );
    assert.deepEqual(batch[1][0].payload, byId(batch[1][0].id).payload);

    const target = stored(1).map((x, i) => 2 * x - stored(6)[i]);
    res = await client.recommend(COS, { positive: [1], negative: [6], limit: 3 });
    assertRanking(res, rank('Cosine', target, P, { limit: 3, exclude: [1, 6] }), 'recommend');
    const rb = await client.recommendBatch(COS, {
        searches: [
            { positive: [1], negative: [6], limit: 3 },
            { positive: [3], limit: 5, filter: cityIs('Berlin'), with_payload: true },
        ],
    });
    assert.equal(rb.length, 2);
    assertRanking(rb[0], rank('Cosine', target, P, { limit: 3, exclude: [1, 6] }), 'recommendBatch[0]');
    assert.deepEqual(ids(rb[1]), [1], 'recommendBatch[1]: Berlin without the example');
    assert.deepEqual(rb[1][0].payload, byId(1).payload);
    res = await client.recommend(NAMED, { positive: [1], using: 'img', limit: 2, with_payload: false });
    assertRanking(
        res,
        rank('Dot', N[0].vector.img, named('img'), { limit: 2, exclude: [1] }),
        'recommend using img (Dot)',
    );
});

step('discover and context: query, legacy discover and discoverBatch', async () => {
    // Qdrant's discover score: +1 / -1 per pair by the closer example (0 on
    // a tie), plus the scaled sigmoid of the target similarity
    // (lib/segment/src/vector_storage/query/discovery_query.rs).
    const cos = (id) => (v) => dot(stored(id), normalize(v));
    const sig = (x) => 0.5 * (x / (1 + Math.abs(x)) + 1);
    const side = (a, b) => (a > b ? 1 : a < b ? -1 : 0);
    const disc = (v) => side(cos(2)(v), cos(6)(v)) + sig(cos(1)(v));
    let res = await client.query(COS, {
        query: { discover: { target: 1, context: [{ positive: 2, negative: 6 }] } },
        limit: 4,
    });
    assertRanking(res.points, rankBy(disc, P, { limit: 4, exclude: [1, 2, 6] }), 'query discover');
    const legacy = await client.discoverPoints(COS, {
        target: 1,
        context: [{ positive: 2, negative: 6 }],
        limit: 4,
    });
    assertRanking(legacy, rankBy(disc, P, { limit: 4, exclude: [1, 2, 6] }), 'discoverPoints');
    // context: the loss sum, 0 on the positive side of every pair; only
    // which side each answer is on is compared (ties are many at 0).
    const b = await client.discoverBatchPoints(COS, {
        searches: [
            { context: [{ positive: 2, negative: 6 }], limit: 3 },
            { target: 1, limit: 2, filter: cityIs('Berlin'), with_payload: true },
        ],
    });
    assert.equal(b.length, 2);
    for (const p of b[0]) {
        const v = byId(p.id).vector;
        assert.equal(p.score > -1e-6, cos(2)(v) > cos(6)(v), `context side of ${p.id}`);
        assert.ok(![2, 6].includes(p.id), 'examples are left out');
    }
    const berlin = P.filter((p) => p.payload.city === 'Berlin');
    assertRanking(b[1], rankBy((v) => sig(cos(1)(v)), berlin, { limit: 2, exclude: [1] }), 'discoverBatch[1]');
    await assert.rejects(
        client.discoverPoints(COS, { limit: 3 }),
        (e) => e.status === 400 && /target and\/or context_pairs/.test(e.data.status.error),
    );
});

// ---- named vectors, Dot / Euclid / Manhattan -----------------------------------

step('named vectors: Dot ranks by dot product, Euclid and Manhattan by distance', async () => {
    let res = await client.query(NAMED, { query: [1, 0, 0, 0], using: 'img', limit: 10 });
    assertRanking(res.points, rank('Dot', [1, 0, 0, 0], named('img'), { limit: 10 }), 'Dot');
    assert.deepEqual(ids(res.points), [10, 1, 2, UN, 3]);

    res = await client.query(NAMED, { query: [0, 0], using: 'txt', limit: 10 });
    assertRanking(res.points, rank('Euclid', [0, 0], named('txt'), { limit: 10 }), 'Euclid');
    assert.deepEqual(
        res.points.map((p) => Number(p.score.toFixed(4))),
        [0, 1, 1.4142, 2.8284],
        'Euclid scores are distances, ascending',
    );
    res = await client.query(NAMED, { query: [0, 0], using: 'txt', limit: 10, score_threshold: 1.5 });
    assert.deepEqual(ids(res.points), [1, 2, 3], 'Euclid threshold keeps distances below it');

    res = await client.query(NAMED, { query: [0, 0], using: 'loc', limit: 10 });
    assertRanking(res.points, rank('Manhattan', [0, 0], named('loc'), { limit: 10 }), 'Manhattan');
    assert.deepEqual(ids(res.points), [1, UN, 2, 3]);
    res = await client.query(NAMED, { query: [0, 0], using: 'loc', limit: 10, score_threshold: 2.5 });
    assert.deepEqual(ids(res.points), [1, UN, 2]);

    res = await client.query(NAMED, {
        query: [1, 0, 0, 0],
        using: 'img',
        limit: 10,
        filter: { must: [{ key: 'kind', match: { value: 'a' } }] },
        with_vector: ['img'],
        with_payload: true,
    });
    assert.deepEqual(ids(res.points), [1, 3]);
    for (const p of res.points) {
        assert.deepEqual(Object.keys(p.vector), ['img']);
        assert.deepEqual(p.payload, { kind: 'a' });
    }
    res = await client.query(NAMED, { query: [0, 0], using: 'txt', limit: 1, with_vector: true });
    assert.deepEqual(Object.keys(res.points[0].vector).sort(), ['img', 'loc', 'txt']);
    assertVector(res.points[0].vector.loc, [0, 0], 'all named vectors');
});

step('updateVectors and deleteVectors on named vectors', async () => {
    assertUpdate(
        await client.updateVectors(NAMED, {
            wait: true,
            points: [
                { id: 3, vector: { txt: [5, 5] } },
                { id: 10, vector: { txt: [0.5, 0] } },
            ],
        }),
    );
    let [r3] = await client.retrieve(NAMED, { ids: [3], with_vector: true });
    assertVector(r3.vector.txt, [5, 5], 'updated txt');
    assertVector(r3.vector.img, N[2].vector.img, 'img untouched');
    assertVector(r3.vector.loc, N[2].vector.loc, 'loc untouched');
    assert.deepEqual(r3.payload, N[2].payload);

    const now = N.map((p) =>
        p.id === 3
            ? { ...p, vector: { ...p.vector, txt: [5, 5] } }
            : p.id === 10
              ? { ...p, vector: { ...p.vector, txt: [0.5, 0] } }
              : p,
    );
    let res = await client.query(NAMED, { query: [0, 0], using: 'txt', limit: 10 });
    assertRanking(res.points, rank('Euclid', [0, 0], named('txt', now), { limit: 10 }), 'after updateVectors');
    assert.deepEqual(ids(res.points), [1, 10, 2, UN, 3]);

    assertUpdate(await client.deleteVectors(NAMED, { wait: true, points: [2], vector: ['loc'] }));
    const [r2] = await client.retrieve(NAMED, { ids: [2], with_vector: true });
    assert.deepEqual(Object.keys(r2.vector).sort(), ['img', 'txt']);
    res = await client.query(NAMED, { query: [0, 0], using: 'loc', limit: 10 });
    assert.deepEqual(ids(res.points), [1, UN, 3], 'no loc vector, no loc result');
    assert.deepEqual(await client.count(NAMED, {}), { count: 5 }, 'the point itself stays');

    const msg = await expectHttpError(404, () =>
        client.updateVectors(NAMED, { wait: true, points: [{ id: 999, vector: { txt: [1, 1] } }] }),
    );
    assert.match(msg, /999/);
    [r3] = await client.retrieve(NAMED, { ids: [3], with_vector: ['txt'] });
    assert.deepEqual(Object.keys(r3.vector), ['txt']);
});

// ---- payload operations -------------------------------------------------------

step('payload: set merges, overwrite replaces, delete keys, clear', async () => {
    assertUpdate(await client.setPayload(COS, { points: [1], payload: { color: 'blue', price: 11 } }));
    assert.deepEqual(await payloadOf(1), { ...byId(1).payload, color: 'blue', price: 11 });

    assertUpdate(await client.setPayload(COS, { filter: cityIs('London'), payload: { promo: true } }));
    const promo = { must: [{ key: 'promo', match: { value: true } }] };
    assert.equal((await client.count(COS, { filter: promo })).count, 2);
    assert.deepEqual(await payloadOf(5), { ...byId(5).payload, promo: true });

    assertUpdate(await client.overwritePayload(COS, { points: [2], payload: { only: 'this' } }));
    assert.deepEqual(await payloadOf(2), { only: 'this' });

    assertUpdate(await client.deletePayload(COS, { points: [1], keys: ['tags', 'meta'] }));
    const { tags, meta, ...rest1 } = byId(1).payload;
    assert.ok(tags && meta);
    assert.deepEqual(await payloadOf(1), { ...rest1, color: 'blue', price: 11 });

    assertUpdate(await client.deletePayload(COS, { filter: promo, keys: ['promo'] }));
    assert.equal((await client.count(COS, { filter: promo })).count, 0);
    assert.deepEqual(await payloadOf(5), byId(5).payload);

    assertUpdate(await client.clearPayload(COS, { points: [3] }));
    assert.deepEqual(await payloadOf(3), {});
    // Vectors are untouched by payload operations.
    const [r3] = await client.retrieve(COS, { ids: [3], with_vector: true });
    assertVector(r3.vector, stored(3), 'vector after clearPayload');

    const msg = await expectHttpError(404, () =>
        client.setPayload(COS, { points: [999], payload: { x: 1 } }),
    );
    assert.match(msg, /999/);
});

step('batchUpdate: a list of point operations applied in order', async () => {
    let res = await client.batchUpdate(COS, {
        wait: true,
        operations: [
            {
                upsert: {
                    points: [
                        { id: 100, vector: [0.1, 0.2, 0.3, 0.4], payload: { city: 'Lima', price: 5 } },
                        { id: 101, vector: [1, 0, 0, 1], payload: { city: 'Quito' } },
                    ],
                },
            },
            { set_payload: { payload: { batch: true }, points: [100, 2] } },
            { delete_payload: { keys: ['price'], points: [100] } },
            { update_vectors: { points: [{ id: 100, vector: [0.4, 0.3, 0.2, 0.1] }] } },
            { delete: { points: [101] } },
        ],
    });
    assert.equal(res.length, 5);
    for (const r of res) assertUpdate(r);
    assert.deepEqual(await client.count(COS, {}), { count: 9 });
    const [r100] = await client.retrieve(COS, { ids: [100], with_vector: true });
    assert.deepEqual(r100.payload, { city: 'Lima', batch: true });
    assertVector(r100.vector, normalize(f32([0.4, 0.3, 0.2, 0.1])), 'vector updated in the batch');
    assert.deepEqual(await client.retrieve(COS, { ids: [101] }), []);
    assert.deepEqual(await payloadOf(2), { only: 'this', batch: true });

    res = await client.batchUpdate(COS, {
        wait: true,
        operations: [
            { overwrite_payload: { payload: { only: 'this' }, points: [2] } },
            { clear_payload: { points: [100] } },
            { delete: { filter: { must: [{ has_id: [100] }] } } },
        ],
    });
    assert.equal(res.length, 3);
    for (const r of res) assertUpdate(r);
    assert.deepEqual(await client.count(COS, {}), { count: 8 });
    assert.deepEqual(await payloadOf(2), { only: 'this' });

    res = await client.batchUpdate(NAMED, {
        operations: [{ delete_vectors: { points: [10], vector: ['txt'] } }],
    });
    assertUpdate(res[0]);
    const [n10] = await client.retrieve(NAMED, { ids: [10], with_vector: true });
    assert.deepEqual(Object.keys(n10.vector), ['img']);
});

// ---- aliases ----------------------------------------------------------------------

step('aliases: create, list, use, rename, delete', async () => {
    assert.equal(
        await client.updateCollectionAliases({
            actions: [{ create_alias: { collection_name: COS, alias_name: ALIAS } }],
        }),
        true,
    );
    assert.deepEqual(await client.getCollectionAliases(COS), {
        aliases: [{ alias_name: ALIAS, collection_name: COS }],
    });
    const all = (await client.getAliases()).aliases;
    assert.ok(
        all.some((a) => a.alias_name === ALIAS && a.collection_name === COS),
        JSON.stringify(all),
    );
    assert.deepEqual(await client.count(ALIAS, {}), await client.count(COS, {}));
    const viaAlias = await client.query(ALIAS, { query: Q, limit: 3 });
    const direct = await client.query(COS, { query: Q, limit: 3 });
    assert.deepEqual(viaAlias.points, direct.points);

    assert.equal(
        await client.updateCollectionAliases({
            actions: [{ rename_alias: { old_alias_name: ALIAS, new_alias_name: ALIAS2 } }],
        }),
        true,
    );
    assert.deepEqual((await client.getCollectionAliases(COS)).aliases, [
        { alias_name: ALIAS2, collection_name: COS },
    ]);
    assert.equal((await client.count(ALIAS2, {})).count, (await client.count(COS, {})).count);
    await expectHttpError(404, () => client.count(ALIAS, {}));

    assert.equal(
        await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: ALIAS2 } }] }),
        true,
    );
    assert.deepEqual(await client.getCollectionAliases(COS), { aliases: [] });
    await expectHttpError(404, () => client.query(ALIAS2, { query: Q, limit: 1 }));
});

step('updateCollection: hnsw_config is patched', async () => {
    assert.equal(await client.updateCollection(COS, { hnsw_config: { ef_construct: 123 } }), true);
    const info = await client.getCollection(COS);
    assert.equal(info.config.hnsw_config.ef_construct, 123);
    assert.equal(info.config.hnsw_config.m, 8, 'fields not in the patch keep their value');
    assert.equal(info.config.params.vectors.size, 4);
    // The data is unchanged.
    assertRanking(
        (await client.query(COS, { query: Q, limit: 2, filter: cityIs('Rome') })).points,
        rank('Cosine', Q, P.filter((p) => p.payload.city === 'Rome'), { limit: 2 }),
        'after update',
    );
});

step('updateCollection: quantization_config, then searches with params.quantization', async () => {
    const scalar = { scalar: { type: 'int8', quantile: 0.99, always_ram: true } };
    assert.equal(await client.updateCollection(COS, { quantization_config: scalar }), true);
    let info = await client.getCollection(COS);
    assert.deepEqual(info.config.quantization_config, scalar);
    // Eight points are below the full-scan threshold: searches scan the
    // floats whatever the quantization, as Qdrant's plain segments do.
    for (const quantization of [{ rescore: true, oversampling: 2 }, { ignore: true }, { rescore: false }]) {
        const res = await client.query(COS, { query: Q, limit: 4, params: { quantization } });
        assertRanking(res.points, rank('Cosine', Q, P, { limit: 4 }), JSON.stringify(quantization));
    }
    const msg = await expectHttpError(422, () =>
        client.query(COS, { query: Q, limit: 4, params: { quantization: { oversampling: 0.5 } } }),
    );
    assert.match(msg, /params\.quantization\.oversampling: value 0\.5 invalid, must be 1\.0 or larger/);
    const binary = { binary: { encoding: 'two_bits', query_encoding: 'scalar8bits' } };
    assert.equal(await client.updateCollection(COS, { quantization_config: binary }), true);
    info = await client.getCollection(COS);
    assert.deepEqual(info.config.quantization_config, binary);
    assert.equal(await client.updateCollection(COS, { quantization_config: 'Disabled' }), true);
    info = await client.getCollection(COS);
    assert.equal(info.config.quantization_config ?? null, null);
});

// ---- deletes ----------------------------------------------------------------------

step('delete points by ids and by filter; wait=false is acknowledged', async () => {
    assertUpdate(await client.delete(COS, { wait: true, points: [1, U2, 123456] }));
    assert.deepEqual(await client.count(COS, {}), { count: 6 });
    assert.deepEqual(await client.retrieve(COS, { ids: [1, U2] }), []);

    assertUpdate(await client.delete(COS, { wait: true, filter: cityIs('Paris') }));
    assert.deepEqual(await client.count(COS, {}), { count: 4 });
    const left = (await client.scroll(COS, { limit: 10, with_payload: false })).points;
    assert.deepEqual(ids(left), [2, 3, 5, U1]);
    const alive = P.filter((p) => [2, 3, 5, U1].includes(p.id));
    assertRanking(
        (await client.query(COS, { query: Q, limit: 10 })).points,
        rank('Cosine', Q, alive, { limit: 10 }),
        'search after deletes',
    );

    // The client leaves `wait` unset here: Qdrant then answers at once.
    assertUpdate(await client.delete(COS, { points: [5] }), 'acknowledged');
    await eventually(async () => (await client.count(COS, {})).count === 3, 'delete with wait=false applied');
});

step('payload index delete', async () => {
    assertUpdate(await client.deletePayloadIndex(COS, 'city', { wait: true }));
    const schema = (await client.getCollection(COS)).payload_schema;
    assert.equal(schema.city, undefined, JSON.stringify(schema));
    assert.equal(schema.price?.data_type, 'integer');
    // Filtering still works without the index (3 is in Berlin, but its
    // payload was cleared).
    assert.equal((await client.count(COS, { filter: cityIs('Rome') })).count, 1);
    assert.equal((await client.count(COS, { filter: cityIs('Berlin') })).count, 0);
});

step('deleteCollection: true, then gone, then false', async () => {
    assert.equal(await client.deleteCollection(NAMED), true);
    assert.deepEqual(await client.collectionExists(NAMED), { exists: false });
    assert.equal(await client.deleteCollection(NAMED), false);
    const msg = await expectHttpError(404, () => client.query(NAMED, { query: [0, 0], using: 'txt' }));
    assert.equal(msg, `Not found: Collection \`${NAMED}\` doesn't exist!`);
    assert.equal(await client.deleteCollection(COS), true);
    const names = (await client.getCollections()).collections.map((c) => c.name);
    assert.ok(!names.includes(COS) && !names.includes(NAMED), `collections: ${names}`);
});
