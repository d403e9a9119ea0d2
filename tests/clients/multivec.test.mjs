// multivec.test.mjs -- the official Qdrant JavaScript client against
// `quiver serve` with a late-interaction (ColBERT-style) collection: a
// dense vector next to a MaxSim multivector, upserted together, queried
// with a matrix through `using`, filtered, and read back.
//
// Expected scores come from a MaxSim oracle written here from Qdrant's
// definition (sum over the query's rows of the best row similarity), so
// ids, order and scores are all checked.  Written against Qdrant 1.19's
// behaviour: it should pass unchanged against a real Qdrant.
//
// Run through tests/clients/run.sh (QUIVER_URL, QUIVER_API_KEY and
// QUIVER_RESPONSE_LOG in the environment).

import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, assertRanking, dot, expectHttpError, f32, normalize, rankBy, step } from './harness.mjs';

const COLL = 'js_multivec';
const client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });

// Deterministic pseudo-random matrices of 1-4 rows of 4 floats.
let seed = 12345;
const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
};
const matrix = (rows) => Array.from({ length: rows }, () => Array.from({ length: 4 }, rnd));

const P = Array.from({ length: 30 }, (_, i) => ({
    id: i + 1,
    colbert: matrix(1 + (i % 4)),
    dense: [1, i, 0.5, -i / 10],
    payload: { part: i % 2 === 0 ? 'even' : 'odd' },
}));

// MaxSim under cosine: rows normalised on both sides, as Qdrant stores them.
const unit = (m) => m.map((r) => normalize(f32(r)));
const maxsim = (q, d) => unit(q).reduce((s, qr) => s + Math.max(...unit(d).map((dr) => dot(qr, dr))), 0);
// rankBy scores a point's `vector` (a list of floats): give it the point's
// index and look the matrix up.
const oracle = (q, pts, opts) =>
    rankBy(
        ([i]) => maxsim(q, P[i].colbert),
        pts.map((p) => ({ id: p.id, vector: [P.indexOf(p)] })),
        opts,
    );

step('create: a dense and a max_sim multivector', async () => {
    await client.deleteCollection(COLL).catch(() => {});
    assert.equal(
        await client.createCollection(COLL, {
            vectors: {
                dense: { size: 4, distance: 'Dot' },
                colbert: { size: 4, distance: 'Cosine', multivector_config: { comparator: 'max_sim' } },
            },
        }),
        true,
    );
    const info = await client.getCollection(COLL);
    assert.deepEqual(info.config.params.vectors.colbert.multivector_config, { comparator: 'max_sim' });
});

step('upsert: matrices of varying rows with their dense vectors', async () => {
    const res = await client.upsert(COLL, {
        wait: true,
        points: P.map((p) => ({ id: p.id, vector: { colbert: p.colbert, dense: p.dense }, payload: p.payload })),
    });
    assert.equal(res.status, 'completed');
    assert.equal((await client.count(COLL, { exact: true })).count, P.length);
    const [rec] = await client.retrieve(COLL, { ids: [4], with_vector: ['colbert'] });
    assert.equal(rec.vector.colbert.length, P[3].colbert.length);
    rec.vector.colbert.forEach((row, i) =>
        row.forEach((x, k) => assert.ok(Math.abs(x - unit(P[3].colbert)[i][k]) < 1e-6)),
    );
});

step('query: a matrix through `using`, with and without a filter', async () => {
    for (let t = 0; t < 5; t++) {
        const q = matrix(1 + (t % 3));
        const got = await client.query(COLL, { query: q, using: 'colbert', limit: 5, params: { exact: true } });
        assertRanking(got.points, oracle(q, P, { limit: 5 }), `query ${t}`);
        const odd = await client.query(COLL, {
            query: q,
            using: 'colbert',
            limit: 3,
            params: { exact: true },
            filter: { must: [{ key: 'part', match: { value: 'odd' } }] },
        });
        assertRanking(odd.points, oracle(q, P.filter((p) => p.payload.part === 'odd'), { limit: 3 }), `filtered ${t}`);
    }
    // The dense vector of the same points answers as before.
    const dense = await client.query(COLL, { query: [0, 1, 0, 0], using: 'dense', limit: 1 });
    assert.equal(dense.points[0].id, P.length);
});

step('errors: a plain vector of the wrong size for the multivector, a ragged matrix', async () => {
    // A plain vector is a matrix of one row (Qdrant's tests/openapi/
    // test_multi_vector.py), so only its dimension can be wrong.
    let msg = await expectHttpError(400, () =>
        client.upsert(COLL, { wait: true, points: [{ id: 99, vector: { colbert: [1, 2, 3] } }] }),
    );
    assert.match(msg, /Vector dimension error: expected dim: 4, got 3/);
    msg = await expectHttpError(422, () =>
        client.upsert(COLL, { wait: true, points: [{ id: 99, vector: { colbert: [[1, 2, 3, 4], [1]] } }] }),
    );
    assert.match(msg, /all vectors must have the same dimension/);
    assert.equal(await client.deleteCollection(COLL), true);
});
