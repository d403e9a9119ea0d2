// vecname.test.mjs -- named-vector management through the official Qdrant
// JavaScript client (createVectorName / deleteVectorName, Qdrant 1.18+):
// a dense and a sparse vector added to a live collection, filled with
// updateVectors and upserts, queried, the same-schema re-create (a no-op)
// and a clash (400), then one deleted while the points keep the rest.
//
// Run through tests/clients/run.sh.

import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, expectHttpError, settle, step } from './harness.mjs';

const C = 'js_vecname';
const client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });

step('a collection with one named vector and points', async () => {
    await client.createCollection(C, { vectors: { old: { size: 2, distance: 'Dot' } } });
    await client.upsert(C, {
        wait: true,
        points: [
            { id: 1, vector: { old: [1, 0] }, payload: { n: 1 } },
            { id: 2, vector: { old: [0, 1] }, payload: { n: 2 } },
        ],
    });
    await settle();
});

step('add a dense and a sparse vector', async () => {
    const r = await client.createVectorName(C, 'new', { dense: { size: 3, distance: 'Cosine' } }, { wait: true });
    assert.equal(r.status, 'completed');
    await client.createVectorName(C, 'kw', { sparse: { modifier: 'idf' } });
    const info = await client.getCollection(C);
    assert.equal(info.config.params.vectors.new.size, 3);
    assert.equal(info.config.params.vectors.new.distance, 'Cosine');
    assert.equal(info.config.params.sparse_vectors.kw.modifier, 'idf');
    // again with the same schema: a no-op; another schema: 400
    await client.createVectorName(C, 'new', { dense: { size: 3, distance: 'Cosine' } });
    const msg = await expectHttpError(400, () =>
        client.createVectorName(C, 'new', { dense: { size: 5, distance: 'Cosine' } }),
    );
    assert.match(msg, /already exists with a different configuration/);
});

step('fill and query the new vectors', async () => {
    let got = await client.query(C, { query: [1, 0, 0], using: 'new', limit: 5 });
    assert.equal(got.points.length, 0);
    await client.updateVectors(C, { wait: true, points: [{ id: 1, vector: { new: [1, 0, 0] } }] });
    await client.upsert(C, {
        wait: true,
        points: [{ id: 3, vector: { old: [1, 1], new: [0, 1, 0], kw: { indices: [4], values: [1] } } }],
    });
    got = await client.query(C, { query: [1, 0, 0], using: 'new', limit: 5 });
    assert.deepEqual(
        got.points.map((p) => p.id),
        [1, 3],
    );
    got = await client.query(C, { query: { indices: [4], values: [2] }, using: 'kw', limit: 5 });
    assert.deepEqual(
        got.points.map((p) => p.id),
        [3],
    );
});

step('delete a vector: points keep the others', async () => {
    const r = await client.deleteVectorName(C, 'old', { wait: true });
    assert.equal(r.status, 'completed');
    const info = await client.getCollection(C);
    assert.equal(info.config.params.vectors.old, undefined);
    assert.equal(info.points_count, 3);
    const [p] = await client.retrieve(C, { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(Object.keys(p.vector), ['new']);
    assert.equal(p.payload.n, 1);
    await client.deleteVectorName(C, 'old'); // unknown now: a no-op
    assert.equal(await client.deleteCollection(C), true);
    await settle();
});
