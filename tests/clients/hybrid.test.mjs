// hybrid.test.mjs -- hybrid queries through the official Qdrant JavaScript
// client: a prefetch of two named vectors fused by RRF, a dense re-score
// of another vector's candidates, and queryGroups (with a prefetch and
// with_lookup).
//
// Expected answers come from the oracle in harness.mjs and an RRF written
// here from Qdrant's definition (lib/segment/src/common/
// reciprocal_rank_fusion.rs: the point at 0-based position p of a list
// scores 1 / (p + k), k = 2 by default, summed over the lists).  The data
// has no near-ties, so the expected order is well defined.  Run through
// tests/clients/run.sh.

import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, assertRanking, expectHttpError, rank, step } from './harness.mjs';

const C = 'js_hybrid';
const DOCS = 'js_hybrid_docs';

const client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });

// dense: Cosine 3-d; kw: Dot 3-d (a stand-in for a keyword vector).
const P = [
    { id: 1, dense: [0.9, 0.1, 0.05], kw: [0.1, 0.0, 0.7], payload: { doc: 10, part: 'intro' } },
    { id: 2, dense: [0.7, 0.6, 0.1], kw: [0.9, 0.2, 0.05], payload: { doc: 10, part: 'body' } },
    { id: 3, dense: [0.1, 0.95, 0.2], kw: [0.3, 0.8, 0.1], payload: { doc: 11, part: 'intro' } },
    { id: 4, dense: [0.05, 0.2, 0.9], kw: [0.6, 0.1, 0.45], payload: { doc: 12, part: 'intro' } },
    { id: 5, dense: [0.4, 0.45, 0.5], kw: [0.2, 0.5, 0.55], payload: { doc: 11, part: 'end' } },
    { id: 6, dense: [-0.8, 0.3, -0.1], kw: [0.05, 0.05, 0.05], payload: { doc: 12, part: 'end' } },
];

const denseOf = P.map((p) => ({ id: p.id, vector: p.dense }));
const kwOf = P.map((p) => ({ id: p.id, vector: p.kw }));

/** Qdrant's RRF over ranked lists of {id}, ties by lower id. */
function rrf(lists, k = 2) {
    const acc = new Map();
    for (const list of lists) {
        list.forEach((p, pos) => acc.set(p.id, (acc.get(p.id) ?? 0) + 1 / (pos + k)));
    }
    return [...acc.entries()]
        .map(([id, score]) => ({ id, score }))
        .sort((a, b) => b.score - a.score || a.id - b.id);
}

step('setup: named dense and kw vectors, a lookup collection', async () => {
    await client.createCollection(C, {
        vectors: { dense: { size: 3, distance: 'Cosine' }, kw: { size: 3, distance: 'Dot' } },
    });
    await client.upsert(C, {
        wait: true,
        points: P.map((p) => ({ id: p.id, vector: { dense: p.dense, kw: p.kw }, payload: p.payload })),
    });
    await client.createCollection(DOCS, { vectors: { size: 2, distance: 'Dot' } });
    await client.upsert(DOCS, {
        wait: true,
        points: [10, 11, 12].map((id) => ({ id, vector: [1, 0], payload: { title: `doc ${id}` } })),
    });
});

step('query: prefetch dense + kw, fusion rrf', async () => {
    const qd = [0.8, 0.3, 0.1];
    const qk = [0.5, 0.5, 0.2];
    const res = await client.query(C, {
        prefetch: [
            { query: qd, using: 'dense', limit: 4 },
            { query: qk, using: 'kw', limit: 4 },
        ],
        query: { fusion: 'rrf' },
        limit: 3,
        with_payload: true,
    });
    const expected = rrf([rank('Cosine', qd, denseOf, { limit: 4 }), rank('Dot', qk, kwOf, { limit: 4 })]).slice(0, 3);
    assertRanking(res.points, expected, 'rrf');
    for (const p of res.points) {
        assert.deepEqual(p.payload, P.find((x) => x.id === p.id).payload);
    }
    // rrf with parameters: k and weights
    const weighted = await client.query(C, {
        prefetch: [
            { query: qd, using: 'dense', limit: 4 },
            { query: qk, using: 'kw', limit: 4 },
        ],
        query: { rrf: { k: 5 } },
        limit: 6,
    });
    assertRanking(
        weighted.points,
        rrf([rank('Cosine', qd, denseOf, { limit: 4 }), rank('Dot', qk, kwOf, { limit: 4 })], 5),
        'rrf k=5',
    );
});

step('query: a dense re-score of the kw candidates', async () => {
    const qk = [0.5, 0.5, 0.2];
    const qd = [0.1, 0.9, 0.3];
    const res = await client.query(C, {
        prefetch: { query: qk, using: 'kw', limit: 3 },
        query: qd,
        using: 'dense',
        limit: 10,
    });
    const cands = new Set(rank('Dot', qk, kwOf, { limit: 3 }).map((p) => p.id));
    assertRanking(res.points, rank('Cosine', qd, denseOf.filter((p) => cands.has(p.id)), { limit: 10 }), 're-score');
});

step('queryGroups: groups by doc with a prefetch and with_lookup', async () => {
    const qd = [0.8, 0.3, 0.1];
    const res = await client.queryGroups(C, {
        prefetch: { query: qd, using: 'dense', limit: 3 },
        query: { fusion: 'rrf' },
        group_by: 'doc',
        group_size: 2,
        limit: 2,
        with_lookup: { collection: DOCS, with_payload: true },
    });
    // The prefetch limit is multiplied by the number of groups (2): the
    // six candidates in dense order, then grouped.
    const ranked = rrf([rank('Cosine', qd, denseOf, { limit: 6 })]);
    const groups = new Map();
    for (const p of ranked) {
        const doc = P.find((x) => x.id === p.id).payload.doc;
        if (!groups.has(doc)) groups.set(doc, []);
        if (groups.get(doc).length < 2) groups.get(doc).push(p);
    }
    const expected = [...groups.entries()].slice(0, 2);
    assert.equal(res.groups.length, 2);
    res.groups.forEach((g, i) => {
        assert.equal(g.id, expected[i][0]);
        assertRanking(g.hits, expected[i][1], `group ${g.id}`);
        assert.deepEqual(g.lookup?.payload, { title: `doc ${g.id}` });
        assert.equal(g.lookup?.id, g.id);
    });
});

step('errors: fusion without prefetch, formula type error', async () => {
    let msg = await expectHttpError(400, () => client.query(C, { query: { fusion: 'rrf' } }));
    assert.equal(msg, 'Wrong input: Validation failed: cannot apply Fusion without prefetches');
    msg = await expectHttpError(400, () =>
        client.query(C, {
            prefetch: { query: [1, 0, 0], using: 'dense' },
            query: { formula: { mult: ['$score', 'part'] } },
        }),
    );
    assert.equal(
        msg,
        'Wrong input: Expected number value for part in the payload and/or in the formula defaults. ' +
            'Error: Value is not a number',
    );
});

step('cleanup', async () => {
    assert.equal(await client.deleteCollection(C), true);
    assert.equal(await client.deleteCollection(DOCS), true);
});
