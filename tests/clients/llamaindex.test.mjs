// llamaindex.test.mjs -- LlamaIndex's Qdrant vector store (@llamaindex/qdrant)
// against `quiver serve`: add nodes (the store creates the collection),
// query by embedding with and without metadata filters, delete by source
// document, the flow a LlamaIndex retrieval pipeline runs.
//
// The JavaScript store has no hybrid (sparse) mode, so this is its dense
// mode.  Embeddings are fixed small vectors given with the nodes, so no
// model is needed; expected scores are recomputed here (cosine, the
// store's distance).

import assert from 'node:assert/strict';
import { BaseEmbedding } from '@llamaindex/core/embeddings';
import { NodeRelationship, TextNode } from '@llamaindex/core/schema';
import { FilterOperator } from '@llamaindex/core/vector-store';
import { QdrantVectorStore } from '@llamaindex/qdrant';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, dot, normalize, step } from './harness.mjs';

const COLLECTION = 'li_nodes';

// id, source document, text, embedding, metadata
const NODES = [
    ['7b0e6f3c-1a2b-4c3d-8e9f-0a1b2c3d4e01', 'doc-a', 'cats purr', [0.9, 0.1, 0.0, 0.1], { topic: 'pets', year: 2020 }],
    ['7b0e6f3c-1a2b-4c3d-8e9f-0a1b2c3d4e02', 'doc-a', 'dogs bark', [0.7, 0.6, 0.1, 0.0], { topic: 'pets', year: 2022 }],
    ['7b0e6f3c-1a2b-4c3d-8e9f-0a1b2c3d4e03', 'doc-b', 'qubits spin', [0.0, 0.2, 0.9, 0.3], { topic: 'science', year: 2021 }],
    ['7b0e6f3c-1a2b-4c3d-8e9f-0a1b2c3d4e04', 'doc-c', 'markets fall', [0.1, 0.0, 0.3, 0.9], { topic: 'finance', year: 2023 }],
];

/** The store insists on an embedding model; every node here brings its
 * embedding, so one that is never asked for a text is enough. */
class GivenEmbeddings extends BaseEmbedding {
    constructor() {
        super();
    }

    async getTextEmbedding(text) {
        throw new Error(`unexpected embedding request for ${JSON.stringify(text)}`);
    }
}

let client;
let store;
let live = NODES;

function node([id, doc, text, embedding, metadata]) {
    return new TextNode({
        id_: id,
        text,
        embedding,
        metadata,
        relationships: { [NodeRelationship.SOURCE]: { nodeId: doc } },
    });
}

/** The k best live nodes for q by cosine, with their scores. */
function expected(q, k, keep = () => true) {
    const qn = normalize(q);
    return live
        .filter((n) => keep(n[4]))
        .map((n) => ({ id: n[0], score: dot(qn, normalize(n[3])) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, k);
}

function check(res, want) {
    assert.deepEqual(res.ids, want.map((w) => w.id));
    res.similarities.forEach((s, i) => assert.ok(Math.abs(s - want[i].score) < 1e-5, `score ${i}`));
    for (const [i, n] of res.nodes.entries()) {
        const src = NODES.find((x) => x[0] === want[i].id);
        assert.equal(n.getContent(), src[2], 'text round trip');
        assert.deepEqual(n.metadata, src[4], 'metadata round trip');
    }
}

step('setup: a clean collection', async () => {
    client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });
    if ((await client.collectionExists(COLLECTION)).exists) await client.deleteCollection(COLLECTION);
    store = new QdrantVectorStore({
        url: URL_,
        apiKey: API_KEY,
        collectionName: COLLECTION,
        embedModel: new GivenEmbeddings(),
    });
});

step('add creates the collection and stores the nodes', async () => {
    const ids = await store.add(NODES.map(node));
    assert.deepEqual(ids, NODES.map((n) => n[0]));
    const info = await client.getCollection(COLLECTION);
    assert.equal(info.config.params.vectors.size, 4);
    assert.equal(info.config.params.vectors.distance, 'Cosine');
    assert.equal((await client.count(COLLECTION, { exact: true })).count, NODES.length);
});

step('query by embedding ranks by cosine', async () => {
    for (const [q, k] of [
        [[1, 0, 0, 0], 2],
        [[0, 0, 1, 0.2], 3],
        [[0.2, 0.1, 0.2, 1], 4],
    ]) {
        const res = await store.query({ queryEmbedding: q, similarityTopK: k, mode: 'default' });
        check(res, expected(q, k));
    }
});

step('metadata filters: equality, ranges and not-equal', async () => {
    const q = [0.5, 0.5, 0.5, 0.5];
    const run = (filters) => store.query({ queryEmbedding: q, similarityTopK: 10, mode: 'default', filters });
    check(
        await run({ filters: [{ key: 'topic', value: 'pets', operator: FilterOperator.EQ }] }),
        expected(q, 10, (m) => m.topic === 'pets'),
    );
    check(
        await run({ filters: [{ key: 'year', value: 2021, operator: FilterOperator.GTE }] }),
        expected(q, 10, (m) => m.year >= 2021),
    );
    check(
        await run({ filters: [{ key: 'topic', value: 'pets', operator: FilterOperator.NE }] }),
        expected(q, 10, (m) => m.topic !== 'pets'),
    );
    check(
        await run({ filters: [{ key: 'year', value: 2022, operator: FilterOperator.EQ }] }),
        expected(q, 10, (m) => m.year === 2022),
    );
});

step('delete removes the nodes of one source document', async () => {
    await store.delete('doc-a');
    live = NODES.filter((n) => n[1] !== 'doc-a');
    assert.equal((await client.count(COLLECTION, { exact: true })).count, live.length);
    const q = [1, 0, 0, 0];
    check(await store.query({ queryEmbedding: q, similarityTopK: 4, mode: 'default' }), expected(q, 4));
});
