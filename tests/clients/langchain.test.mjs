// langchain.test.mjs -- LangChain's Qdrant vector store against `quiver
// serve`: fromTexts, addDocuments, similaritySearch(WithScore), metadata
// filters and delete, the flow a retrieval-augmented application runs.
//
// HashEmbeddings stands in for a model: a text's vector is its bag of
// words hashed into 64 signed buckets and normalised, so texts that share
// words are near each other, the same text always gives the same vector,
// and nothing is downloaded.  Expected scores are recomputed from those
// vectors (cosine, the store's default distance).

import assert from 'node:assert/strict';
import { Document } from '@langchain/core/documents';
import { Embeddings } from '@langchain/core/embeddings';
import { QdrantVectorStore } from '@langchain/qdrant';
import { QdrantClient } from '@qdrant/js-client-rest';
import { API_KEY, URL_, dot, settle, step, warnings } from './harness.mjs';

const COLLECTION = 'lc_docs';
const DIM = 64;

/** Deterministic bag-of-words embeddings (FNV-1a of each word). */
class HashEmbeddings extends Embeddings {
    constructor() {
        super({});
    }

    embed(text) {
        const v = new Array(DIM).fill(0);
        for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
            let h = 0x811c9dc5;
            for (let i = 0; i < word.length; i++) {
                h ^= word.charCodeAt(i);
                h = Math.imul(h, 0x01000193) >>> 0;
            }
            v[h % DIM] += (h >>> 16) & 1 ? 1 : -1;
        }
        const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
        return v.map((x) => x / n);
    }

    async embedDocuments(texts) {
        return texts.map((t) => this.embed(t));
    }

    async embedQuery(text) {
        return this.embed(text);
    }
}

const emb = new HashEmbeddings();
const TEXTS = [
    'the cat sat on the mat purring softly',
    'dogs bark loudly at the mailman every morning',
    'quantum computers manipulate qubits with microwave pulses',
    'the stock market fell sharply after the announcement',
    'a kitten and an old cat play with yarn',
];
const METAS = [
    { source: 'pets', n: 1 },
    { source: 'pets', n: 2 },
    { source: 'science', n: 3 },
    { source: 'finance', n: 4 },
    { source: 'pets', n: 5, tags: ['cat', 'kitten'] },
];
const EXTRA_ID = '3f2a9c1e-8b7d-4e6f-a5c4-b3d2e1f0a9b8';
const EXTRA = 'volcanoes erupt molten lava and ash';

let client;
let store;
let live; // texts currently stored, with their metadata

function cosine(a, b) {
    return dot(emb.embed(a), emb.embed(b));
}

/**
 * Checks [doc, score] pairs: each score equals the cosine of the query and
 * the document's text, scores do not increase, and the documents are the
 * k best among those stored (ties at the cut may go either way).
 */
function checkScored(query, got, k, pool = live) {
    const best = pool.map((d) => cosine(query, d.text)).sort((a, b) => b - a);
    assert.equal(got.length, Math.min(k, pool.length), 'number of results');
    for (let i = 0; i < got.length; i++) {
        const [doc, score] = got[i];
        const stored = pool.find((d) => d.text === doc.pageContent);
        assert.ok(stored, `unknown document ${JSON.stringify(doc.pageContent)}`);
        assert.deepEqual(doc.metadata, stored.metadata, 'metadata round trip');
        assert.ok(Math.abs(score - cosine(query, doc.pageContent)) < 1e-4, `score of "${doc.pageContent}"`);
        assert.ok(Math.abs(score - best[i]) < 1e-4, `rank ${i}: ${score} vs best ${best[i]}`);
        if (i > 0) assert.ok(got[i - 1][1] >= score - 1e-6, 'scores do not increase');
    }
}

async function count() {
    return (await client.count(COLLECTION, { exact: true })).count;
}

step('setup: a clean collection', async () => {
    client = new QdrantClient({ url: URL_, apiKey: API_KEY, checkCompatibility: false });
    if ((await client.collectionExists(COLLECTION)).exists) await client.deleteCollection(COLLECTION);
});

step('fromTexts creates the collection and stores the documents', async () => {
    warnings.length = 0;
    // The way applications build the store: url and key, the store makes its
    // own client (with the version check on).
    store = await QdrantVectorStore.fromTexts(TEXTS, METAS, emb, {
        url: URL_,
        apiKey: API_KEY,
        collectionName: COLLECTION,
    });
    await settle();
    const bad = warnings.filter((w) => /incompatible|Failed to obtain server version/i.test(w));
    assert.deepEqual(bad, [], 'the client warned about the server version');
    live = TEXTS.map((text, i) => ({ text, metadata: METAS[i] }));

    const info = await client.getCollection(COLLECTION);
    assert.equal(info.config.params.vectors.size, DIM);
    assert.equal(info.config.params.vectors.distance, 'Cosine');
    assert.equal(await count(), TEXTS.length);
    const { points } = await client.scroll(COLLECTION, { limit: 10 });
    for (const p of points) {
        assert.match(String(p.id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        const i = TEXTS.indexOf(p.payload.content);
        assert.ok(i >= 0, `payload ${JSON.stringify(p.payload)}`);
        assert.deepEqual(p.payload.metadata, METAS[i]);
    }
});

step('similaritySearch puts the matching document first', async () => {
    let docs = await store.similaritySearch('cat purring on a mat', 2);
    assert.equal(docs.length, 2);
    assert.equal(docs[0].pageContent, TEXTS[0]);
    assert.deepEqual(docs[0].metadata, METAS[0]);
    docs = await store.similaritySearch('qubits and quantum computers', 1);
    assert.deepEqual(
        docs.map((d) => d.pageContent),
        [TEXTS[2]],
    );
    docs = await store.similaritySearch('stock market announcement', 3);
    assert.equal(docs[0].pageContent, TEXTS[3]);
});

step('similaritySearchWithScore returns cosine scores, best first', async () => {
    for (const [query, k, first] of [
        ['kitten playing with yarn', 3, 4],
        ['dogs bark at the mailman', 2, 1],
        ['quantum qubits microwave', 5, 2],
    ]) {
        const got = await store.similaritySearchWithScore(query, k);
        assert.equal(got[0][0].pageContent, TEXTS[first], `first hit for "${query}"`);
        checkScored(query, got, k);
    }
});

step('a metadata filter narrows the search', async () => {
    const pets = { must: [{ key: 'metadata.source', match: { value: 'pets' } }] };
    const got = await store.similaritySearchWithScore('cat', 10, pets);
    const pool = live.filter((d) => d.metadata.source === 'pets');
    checkScored('cat', got, 10, pool);
    assert.deepEqual(got.map(([d]) => d.metadata.n).sort(), [1, 2, 5]);

    const science = { must: [{ key: 'metadata.source', match: { value: 'science' } }] };
    const docs = await store.similaritySearch('cat', 10, science);
    assert.deepEqual(
        docs.map((d) => d.pageContent),
        [TEXTS[2]],
    );
    const tagged = { must: [{ key: 'metadata.tags', match: { any: ['kitten'] } }] };
    assert.deepEqual(
        (await store.similaritySearch('anything', 10, tagged)).map((d) => d.metadata.n),
        [5],
    );
});

step('maxMarginalRelevanceSearch starts with the most relevant document', async () => {
    const docs = await store.maxMarginalRelevanceSearch('cat purring on a mat', { k: 3, fetchK: 5, lambda: 0.5 });
    assert.equal(docs.length, 3);
    assert.equal(docs[0].pageContent, TEXTS[0]);
    assert.equal(new Set(docs.map((d) => d.pageContent)).size, 3, 'distinct documents');
    for (const d of docs) assert.ok(TEXTS.includes(d.pageContent));
});

step('addDocuments with an id, then delete by id', async () => {
    await store.addDocuments([new Document({ pageContent: EXTRA, metadata: { source: 'geo' }, id: EXTRA_ID })]);
    live.push({ text: EXTRA, metadata: { source: 'geo' } });
    assert.equal(await count(), 6);
    const [[doc, score]] = await store.similaritySearchWithScore('lava from volcanoes', 1);
    assert.equal(doc.pageContent, EXTRA);
    assert.equal(doc.id, EXTRA_ID);
    assert.ok(Math.abs(score - cosine('lava from volcanoes', EXTRA)) < 1e-4);

    await store.delete({ ids: [EXTRA_ID] });
    live.pop();
    assert.equal(await count(), 5);
    const docs = await store.similaritySearch('lava from volcanoes', 5);
    assert.ok(!docs.some((d) => d.pageContent === EXTRA), 'deleted document still found');
});

step('delete by metadata filter; an existing collection is reopened', async () => {
    await store.delete({ filter: { must: [{ key: 'metadata.source', match: { value: 'pets' } }] } });
    live = live.filter((d) => d.metadata.source !== 'pets');
    assert.equal(await count(), 2);

    const reopened = await QdrantVectorStore.fromExistingCollection(emb, {
        client,
        collectionName: COLLECTION,
    });
    const got = await reopened.similaritySearchWithScore('cat purring', 5);
    checkScored('cat purring', got, 5);
    assert.deepEqual(got.map(([d]) => d.metadata.source).sort(), ['finance', 'science']);
});

step('cleanup', async () => {
    assert.equal(await client.deleteCollection(COLLECTION), true);
    assert.deepEqual(await client.collectionExists(COLLECTION), { exists: false });
});
