// grpc.test.mjs -- Qdrant's official gRPC client (@qdrant/js-client-grpc
// 1.19) against `quiver serve`'s gRPC port, every answer compared with
// the REST answer to the same request.
//
// One collection (g_cos: four-dimensional Cosine vectors) is created over
// gRPC and then read and written through both APIs (and g_hybrid, an
// unnamed dense vector beside a sparse one, near the end): a write through either
// must be visible to the other at once (one catalog).  Points have u64 ids
// (small, 2^53 + 1, 2^64 - 1) and UUIDs, and payloads of every JSON type,
// integers above 2^53 included; REST bodies are parsed so that such
// integers stay exact (bigJson below), and gRPC messages are turned into
// REST's JSON shapes (rest* below) before comparing.
//
// Run through tests/clients/run.sh (QUIVER_URL, QUIVER_GRPC_URL,
// QUIVER_API_KEY, QUIVER_READ_ONLY_KEY in the environment).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QdrantClient, ConnectErrorCode } from '@qdrant/js-client-grpc';
import { API_KEY, URL_ } from './harness.mjs';

const GRPC_URL = process.env.QUIVER_GRPC_URL;
const RO_KEY = process.env.QUIVER_READ_ONLY_KEY;
if (!GRPC_URL) throw new Error('QUIVER_GRPC_URL is not set: run through tests/clients/run.sh');

const client = (apiKey) =>
    new QdrantClient({ url: GRPC_URL, apiKey, checkCompatibility: false });
const g = client(API_KEY);
const C = 'g_cos';
const ALIAS = 'g_alias';

// ---- REST, with exact big integers -----------------------------------------

// JSON.parse with every integer of 16 or more digits kept as a BigInt
// (Node 20 has no reviver source text): such tokens are quoted first.
function bigJson(text) {
    const quoted = text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"#big:$2"');
    return JSON.parse(quoted, (k, v) =>
        typeof v === 'string' && v.startsWith('#big:') ? BigInt(v.slice(5)) : v,
    );
}

async function rest(method, path, body) {
    const res = await fetch(URL_ + path, {
        method,
        headers: { 'content-type': 'application/json', 'api-key': API_KEY },
        body: body === undefined ? undefined : JSON.stringify(body, (k, v) =>
            typeof v === 'bigint' ? `#raw:${v}` : v).replace(/"#raw:(-?\d+)"/g, '$1'),
    });
    const json = bigJson(await res.text());
    return { status: res.status, json };
}

async function restOk(method, path, body) {
    const r = await rest(method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.json, big)}`);
    return r.json.result;
}

function big(k, v) {
    return typeof v === 'bigint' ? `${v}n` : v;
}

// Small integers compare as numbers, large ones as BigInts, on both sides.
function norm(v) {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') {
        const o = {};
        for (const k of Object.keys(v).sort()) o[k] = norm(v[k]);
        return o;
    }
    return v;
}

function same(actual, expected, what) {
    assert.deepEqual(norm(actual), norm(expected), what);
}

// ---- gRPC messages in REST's shapes ------------------------------------------

const restId = (id) => id.pointIdOptions.value;

function restValue(v) {
    const k = v.kind;
    switch (k.case) {
        case 'nullValue':
        case undefined:
            return null;
        case 'structValue':
            return restPayload(k.value.fields);
        case 'listValue':
            return k.value.values.map(restValue);
        default:
            return k.value;
    }
}

function restPayload(map) {
    const o = {};
    for (const [key, v] of Object.entries(map ?? {})) o[key] = restValue(v);
    return o;
}

function restVector(vs) {
    if (!vs) return undefined;
    const v = vs.vectorsOptions.value;
    return v.vector.case === 'dense' ? v.vector.value.data : v.data;
}

function restPoint(p, { score = false, vector = false } = {}) {
    const o = { id: restId(p.id), payload: restPayload(p.payload) };
    if (score) o.score = p.score;
    if (vector) o.vector = restVector(p.vectors);
    return o;
}

const f32 = (x) => Math.fround(x);
function restPointFromRest(p, { score = false, vector = false } = {}) {
    const o = { id: p.id, payload: p.payload ?? {} };
    if (score) o.score = f32(p.score);
    if (vector) o.vector = p.vector.map(f32);
    return o;
}

// protobuf-es messages: ids, values, vectors.
const num = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const uuid = (u) => ({ pointIdOptions: { case: 'uuid', value: u } });
function value(v) {
    if (v === null) return { kind: { case: 'nullValue', value: 0 } };
    if (typeof v === 'bigint') return { kind: { case: 'integerValue', value: v } };
    if (typeof v === 'number')
        return Number.isInteger(v)
            ? { kind: { case: 'integerValue', value: BigInt(v) } }
            : { kind: { case: 'doubleValue', value: v } };
    if (typeof v === 'string') return { kind: { case: 'stringValue', value: v } };
    if (typeof v === 'boolean') return { kind: { case: 'boolValue', value: v } };
    if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(value) } } };
    return { kind: { case: 'structValue', value: { fields: payload(v) } } };
}
function payload(o) {
    const m = {};
    for (const [k, v] of Object.entries(o)) m[k] = value(v);
    return m;
}
const dense = (data) => ({
    vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data } } } },
});
const withPayload = { selectorOptions: { case: 'enable', value: true } };
const withVectors = { selectorOptions: { case: 'enable', value: true } };
const keyword = (key, v) => ({
    conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'keyword', value: v } } } },
});
const range = (key, r) => ({ conditionOneOf: { case: 'field', value: { key, range: r } } });

const BIG = 9007199254740993n; // 2^53 + 1
const MAX = 18446744073709551615n; // 2^64 - 1
const U1 = '550e8400-e29b-41d4-a716-446655440000';
const U2 = 'c0ffee00-0000-4000-8000-000000000001';
const POINTS = [
    { id: 1, vector: [1, 0, 0, 0], payload: { city: 'Berlin', n: 1, f: 0.5, ok: true, none: null } },
    { id: 2, vector: [0.9, 0.1, 0, 0], payload: { city: 'Paris', n: 2, big: BIG, neg: -BIG } },
    { id: BIG, vector: [0, 1, 0, 0], payload: { city: 'Berlin', n: 3, list: [1, 'a', false, null, 2.25] } },
    { id: MAX, vector: [0, 0, 1, 0], payload: { city: 'Rome', n: 4, obj: { a: { b: [9223372036854775807n, -9223372036854775808n] } } } },
    { id: U1, vector: [0, 0, 0, 1], payload: { city: 'Paris', n: 5, s: 'ünïcödé "quoted"' } },
    { id: U2, vector: [0.5, 0.5, 0.5, 0.5], payload: { city: 'Berlin', n: 6 } },
];
const grpcId = (id) => (typeof id === 'string' ? uuid(id) : num(id));

async function expectCode(promise, code, what) {
    await assert.rejects(promise, (e) => {
        assert.equal(e.code, code, `${what}: ${e.code} ${e.rawMessage}`);
        return true;
    });
}

// ---- the scenario -------------------------------------------------------------

test('health check: same title and version as GET /', async () => {
    const h = await g.api('service').healthCheck({});
    const r = await rest('GET', '/');
    assert.equal(h.title, r.json.title);
    assert.equal(h.version, r.json.version);
});

test('collections: create over gRPC, list and exists over both', async () => {
    await g.api('collections').delete({ collectionName: C }).catch(() => {});
    const res = await g.api('collections').create({
        collectionName: C,
        vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } },
    });
    assert.equal(res.result, true);
    const list = await g.api('collections').list({});
    const rl = await restOk('GET', '/collections');
    same(list.collections.map((c) => c.name).sort(), rl.collections.map((c) => c.name).sort(), 'list');
    assert.ok(list.collections.some((c) => c.name === C));
    const ex = await g.api('collections').collectionExists({ collectionName: C });
    assert.equal(ex.result.exists, (await restOk('GET', `/collections/${C}/exists`)).exists);
    const cl = await g.api('collections').collectionClusterInfo({ collectionName: C });
    const rcl = await restOk('GET', `/collections/${C}/cluster`);
    assert.equal(Number(cl.shardCount), rcl.shard_count);
    assert.equal(cl.localShards.length, rcl.local_shards.length);
    const info = await g.api('collections').get({ collectionName: C });
    const ri = await restOk('GET', `/collections/${C}`);
    const params = info.result.config.params.vectorsConfig.config.value;
    assert.equal(Number(params.size), ri.config.params.vectors.size);
    assert.equal(params.distance, 1);
    assert.equal(Number(info.result.pointsCount), ri.points_count);
});

test('upsert over gRPC: u64 and UUID ids, every payload type, read back over REST', async () => {
    const res = await g.api('points').upsert({
        collectionName: C,
        wait: true,
        points: POINTS.map((p) => ({ id: grpcId(p.id), vectors: dense(p.vector), payload: payload(p.payload) })),
    });
    assert.equal(res.result.status, 2); // Completed
    const ids = POINTS.map((p) => p.id);
    const got = await restOk('POST', `/collections/${C}/points`, { ids, with_payload: true });
    same(
        got.map((p) => restPointFromRest(p)).sort((a, b) => String(a.id).localeCompare(String(b.id))),
        POINTS.map((p) => ({ id: p.id, payload: p.payload })).sort((a, b) => String(a.id).localeCompare(String(b.id))),
        'REST sees the gRPC upsert',
    );
    const gg = await g.api('points').get({
        collectionName: C, ids: ids.map(grpcId), withPayload, withVectors,
    });
    const rg = await restOk('POST', `/collections/${C}/points`, { ids, with_payload: true, with_vector: true });
    same(gg.result.map((p) => restPoint(p, { vector: true })), rg.map((p) => restPointFromRest(p, { vector: true })), 'get');
});

test('a large upsert (over 1 KiB: the client gzips it) and its deletion', async () => {
    const many = [];
    for (let i = 0; i < 200; i++)
        many.push({ id: num(1000 + i), vectors: dense([i, 1, 2, 3]), payload: payload({ text: `point number ${i}`, i }) });
    await g.api('points').upsert({ collectionName: C, wait: true, points: many });
    const rc = await restOk('POST', `/collections/${C}/points/count`, { exact: true, filter: { must: [{ key: 'i', range: { gte: 0 } }] } });
    assert.equal(rc.count, 200);
    const p = await restOk('GET', `/collections/${C}/points/1199`);
    same(p.payload, { text: 'point number 199', i: 199 }, 'payload of a gzipped upsert');
    await g.api('points').delete({
        collectionName: C, wait: true,
        points: { pointsSelectorOneOf: { case: 'filter', value: { must: [range('i', { gte: 0 })] } } },
    });
    const after = await restOk('POST', `/collections/${C}/points/count`, { exact: true });
    assert.equal(after.count, POINTS.length);
});

test('a REST write is visible over gRPC at once', async () => {
    await restOk('PUT', `/collections/${C}/points?wait=true`, {
        points: [{ id: 7, vector: [0.1, 0.2, 0.3, 0.4], payload: { city: 'Oslo', n: 7 } }],
    });
    const gg = await g.api('points').get({ collectionName: C, ids: [num(7)], withPayload });
    same(gg.result.map((p) => restPoint(p)), [{ id: 7, payload: { city: 'Oslo', n: 7 } }], 'gRPC sees it');
});

test('search and query with filters: same answers as REST', async () => {
    const filter = { must: [keyword('city', 'Berlin')], mustNot: [range('n', { gt: 5 })] };
    const rfilter = { must: [{ key: 'city', match: { value: 'Berlin' } }], must_not: [{ key: 'n', range: { gt: 5 } }] };
    const s = await g.api('points').search({
        collectionName: C, vector: [1, 0.2, 0, 0], filter, limit: 10n, withPayload,
    });
    const rs = await restOk('POST', `/collections/${C}/points/search`, {
        vector: [1, 0.2, 0, 0], filter: rfilter, limit: 10, with_payload: true,
    });
    assert.ok(s.result.length === 2, `two Berlin points with n <= 5: ${s.result.length}`);
    same(s.result.map((p) => restPoint(p, { score: true })), rs.map((p) => restPointFromRest(p, { score: true })), 'search');

    const q = await g.api('points').query({
        collectionName: C,
        query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 0, 0.5, 0.5] } } } } },
        filter: { should: [keyword('city', 'Paris'), keyword('city', 'Rome')] },
        limit: 3n,
        withPayload,
    });
    const rq = await restOk('POST', `/collections/${C}/points/query`, {
        query: [0, 0, 0.5, 0.5],
        filter: { should: [{ key: 'city', match: { value: 'Paris' } }, { key: 'city', match: { value: 'Rome' } }] },
        limit: 3,
        with_payload: true,
    });
    same(q.result.map((p) => restPoint(p, { score: true })), rq.points.map((p) => restPointFromRest(p, { score: true })), 'query');

    const sb = await g.api('points').searchBatch({
        collectionName: C,
        searchPoints: [
            { collectionName: C, vector: [1, 0, 0, 0], limit: 2n },
            { collectionName: C, vector: [0, 0, 0, 1], limit: 1n, filter: { must: [keyword('city', 'Paris')] } },
        ],
    });
    const rsb = await restOk('POST', `/collections/${C}/points/search/batch`, {
        searches: [
            { vector: [1, 0, 0, 0], limit: 2 },
            { vector: [0, 0, 0, 1], limit: 1, filter: { must: [{ key: 'city', match: { value: 'Paris' } }] } },
        ],
    });
    same(
        sb.result.map((b) => b.result.map((p) => ({ id: restId(p.id), score: p.score }))),
        rsb.map((b) => b.map((p) => ({ id: p.id, score: f32(p.score) }))),
        'search batch',
    );
});

test('query variants over gRPC: same answers as REST', async () => {
    const vi = (v) => (Array.isArray(v)
        ? { variant: { case: 'dense', value: { data: v } } }
        : { variant: { case: 'id', value: grpcId(v) } });
    const cases = [
        ['recommend sum_scores',
            { case: 'recommend', value: { positive: [vi(1), vi([0, 0, 1, 0])], negative: [vi(U1)], strategy: 2 } },
            { recommend: { positive: [1, [0, 0, 1, 0]], negative: [U1], strategy: 'sum_scores' } }],
        ['discover',
            { case: 'discover', value: { target: vi(1), context: { pairs: [{ positive: vi(2), negative: vi(U1) }] } } },
            { discover: { target: 1, context: [{ positive: 2, negative: U1 }] } }],
        ['context',
            { case: 'context', value: { pairs: [{ positive: vi(2), negative: vi(U1) }, { positive: vi([0, 1, 0, 0]), negative: vi(MAX) }] } },
            { context: [{ positive: 2, negative: U1 }, { positive: [0, 1, 0, 0], negative: MAX }] }],
        ['relevance_feedback',
            { case: 'relevanceFeedback', value: {
                target: vi([1, 0, 0, 0]),
                feedback: [{ example: vi(2), score: 0.9 }, { example: vi(MAX), score: 0.1 }],
                strategy: { variant: { case: 'naive', value: { a: 1, b: 1, c: 2 } } },
            } },
            { relevance_feedback: {
                target: [1, 0, 0, 0],
                feedback: [{ example: 2, score: 0.9 }, { example: MAX, score: 0.1 }],
                strategy: { naive: { a: 1, b: 1, c: 2 } },
            } }],
        ['nearest with mmr',
            { case: 'nearestWithMmr', value: { nearest: vi([1, 0.2, 0, 0]), mmr: { diversity: 0.5, candidatesLimit: 6 } } },
            { nearest: [1, 0.2, 0, 0], mmr: { diversity: 0.5, candidates_limit: 6 } }],
    ];
    for (const [what, gq, rq] of cases) {
        const q = await g.api('points').query({ collectionName: C, query: { variant: gq }, limit: 4n });
        const r = await rest('POST', `/collections/${C}/points/query`, { query: rq, limit: 4 });
        assert.equal(r.status, 200, `${what}: REST ${r.status} ${JSON.stringify(r.json, big)}`);
        assert.ok(r.json.result.points.length > 0, what);
        same(q.result.map((p) => ({ id: restId(p.id), score: p.score })),
            r.json.result.points.map((p) => ({ id: p.id, score: f32(p.score) })), what);
    }
});

test('formula and rrf queries over prefetches over gRPC: same answers as REST', async () => {
    const ex = (c, v) => ({ variant: { case: c, value: v } });
    const dense4 = (d) => ({ variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: d } } } } });
    const prefetch = [{ query: dense4([1, 0, 0, 0]), limit: 6n }, { query: dense4([0, 0, 0, 1]), limit: 3n }];
    const rprefetch = [{ query: [1, 0, 0, 0], limit: 6 }, { query: [0, 0, 0, 1], limit: 3 }];
    const cases = [
        ['formula',
            ex('formula', {
                expression: ex('sum', { sum: [
                    ex('variable', '$score'),
                    ex('mult', { mult: [ex('constant', 0.1), ex('variable', 'n')] }),
                    ex('condition', keyword('city', 'Berlin')),
                    ex('neg', ex('abs', ex('constant', 0.25))),
                ] }),
                defaults: {},
            }),
            { formula: { sum: ['$score', { mult: [0.1, 'n'] }, { key: 'city', match: { value: 'Berlin' } }, { neg: { abs: 0.25 } }] } }],
        ['rrf k', ex('rrf', { k: 10 }), { rrf: { k: 10 } }],
    ];
    for (const [what, gq, rq] of cases) {
        const q = await g.api('points').query({ collectionName: C, prefetch, query: gq, limit: 5n });
        const r = await restOk('POST', `/collections/${C}/points/query`, { prefetch: rprefetch, query: rq, limit: 5 });
        assert.ok(r.points.length > 0, what);
        same(q.result.map((p) => ({ id: restId(p.id), score: p.score })),
            r.points.map((p) => ({ id: p.id, score: f32(p.score) })), what);
    }
});

test('legacy discover and discover batch over gRPC: same answers as REST', async () => {
    const ex = (v) => ({ example: Array.isArray(v)
        ? { case: 'vector', value: { data: v } }
        : { case: 'id', value: grpcId(v) } });
    const req = {
        collectionName: C,
        target: { target: { case: 'single', value: ex(1) } },
        context: [{ positive: ex(2), negative: ex(U1) }, { positive: ex([0, 1, 0, 0]), negative: ex(MAX) }],
        limit: 4n,
        withPayload,
    };
    const rreq = {
        target: 1,
        context: [{ positive: 2, negative: U1 }, { positive: [0, 1, 0, 0], negative: MAX }],
        limit: 4,
        with_payload: true,
    };
    const d = await g.api('points').discover(req);
    const rd = await restOk('POST', `/collections/${C}/points/discover`, rreq);
    assert.ok(rd.length > 0);
    same(d.result.map((p) => restPoint(p, { score: true })), rd.map((p) => restPointFromRest(p, { score: true })), 'discover');
    const db = await g.api('points').discoverBatch({ collectionName: C, discoverPoints: [req, { ...req, limit: 2n }] });
    const rdb = await restOk('POST', `/collections/${C}/points/discover/batch`, { searches: [rreq, { ...rreq, limit: 2 }] });
    same(
        db.result.map((b) => b.result.map((p) => ({ id: restId(p.id), score: p.score }))),
        rdb.map((b) => b.map((p) => ({ id: p.id, score: f32(p.score) }))),
        'discover batch',
    );
});

test('scroll with pagination and count: same pages as REST', async () => {
    let offset;
    const pages = [];
    for (let i = 0; i < 10; i++) {
        const r = await g.api('points').scroll({ collectionName: C, limit: 3, offset, withPayload });
        const rr = await restOk('POST', `/collections/${C}/points/scroll`, {
            limit: 3, offset: offset ? restId(offset) : undefined, with_payload: true,
        });
        same(r.result.map((p) => restPoint(p)), rr.points.map((p) => restPointFromRest(p)), `page ${i}`);
        same(r.nextPageOffset ? restId(r.nextPageOffset) : null, rr.next_page_offset, `next offset ${i}`);
        pages.push(...r.result);
        offset = r.nextPageOffset;
        if (!offset) break;
    }
    assert.equal(pages.length, POINTS.length + 1);
    const cnt = await g.api('points').count({ collectionName: C, exact: true, filter: { must: [keyword('city', 'Berlin')] } });
    const rc = await restOk('POST', `/collections/${C}/points/count`, {
        exact: true, filter: { must: [{ key: 'city', match: { value: 'Berlin' } }] },
    });
    assert.equal(Number(cnt.result.count), rc.count);
    assert.equal(rc.count, 3);
});

test('recommend, query batch: same answers as REST', async () => {
    const r = await g.api('points').recommend({
        collectionName: C, positive: [num(1)], negative: [num(MAX)], limit: 3n, withPayload,
    });
    const rr = await restOk('POST', `/collections/${C}/points/recommend`, {
        positive: [1], negative: [MAX], limit: 3, with_payload: true,
    });
    same(r.result.map((p) => restPoint(p, { score: true })), rr.map((p) => restPointFromRest(p, { score: true })), 'recommend');
    const qb = await g.api('points').queryBatch({
        collectionName: C,
        queryPoints: [
            { collectionName: C, query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [1, 1, 0, 0] } } } } }, limit: 2n },
            { collectionName: C, query: { variant: { case: 'nearest', value: { variant: { case: 'id', value: uuid(U1) } } } }, limit: 2n, filter: { must: [keyword('city', 'Berlin')] } },
        ],
    });
    const rqb = await restOk('POST', `/collections/${C}/points/query/batch`, {
        searches: [
            { query: [1, 1, 0, 0], limit: 2 },
            { query: U1, limit: 2, filter: { must: [{ key: 'city', match: { value: 'Berlin' } }] } },
        ],
    });
    same(
        qb.result.map((b) => b.result.map((p) => ({ id: restId(p.id), score: p.score }))),
        rqb.map((b) => b.points.map((p) => ({ id: p.id, score: f32(p.score) }))),
        'query batch',
    );
});

test('groups and distance matrix: same answers as REST', async () => {
    const sg = await g.api('points').searchGroups({
        collectionName: C, vector: [1, 0.5, 0, 0], groupBy: 'city', limit: 3, groupSize: 2,
    });
    const rsg = await restOk('POST', `/collections/${C}/points/search/groups`, {
        vector: [1, 0.5, 0, 0], group_by: 'city', limit: 3, group_size: 2,
    });
    same(
        sg.result.groups.map((gr) => ({ id: gr.id.kind.value, hits: gr.hits.map((h) => ({ id: restId(h.id), score: h.score })) })),
        rsg.groups.map((gr) => ({ id: gr.id, hits: gr.hits.map((h) => ({ id: h.id, score: f32(h.score) })) })),
        'search groups',
    );
    const qg = await g.api('points').queryGroups({
        collectionName: C,
        query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 1, 0, 0] } } } } },
        groupBy: 'city', limit: 2n, groupSize: 1n,
    });
    const rqg = await restOk('POST', `/collections/${C}/points/query/groups`, {
        query: [0, 1, 0, 0], group_by: 'city', limit: 2, group_size: 1,
    });
    same(
        qg.result.groups.map((gr) => ({ id: gr.id.kind.value, hits: gr.hits.map((h) => restId(h.id)) })),
        rqg.groups.map((gr) => ({ id: gr.id, hits: gr.hits.map((h) => h.id) })),
        'query groups',
    );
    const mp = await g.api('points').searchMatrixPairs({ collectionName: C, sample: 4n, limit: 2n });
    const rmp = await restOk('POST', `/collections/${C}/points/search/matrix/pairs`, { sample: 4, limit: 2 });
    assert.equal(mp.result.pairs.length, rmp.pairs.length);
});

test('update vectors and a batch of updates over gRPC, checked over REST', async () => {
    await g.api('points').updateVectors({
        collectionName: C, wait: true, points: [{ id: num(2), vectors: dense([0, 0, 0, 2]) }],
    });
    const p2 = await restOk('GET', `/collections/${C}/points/2`);
    same(p2.vector.map(f32), [0, 0, 0, 1], 'normalised new vector');
    const res = await g.api('points').updateBatch({
        collectionName: C, wait: true,
        operations: [
            { operation: { case: 'upsert', value: { points: [{ id: num(8), vectors: dense([1, 2, 3, 4]), payload: payload({ city: 'Lima', n: 8 }) }] } } },
            { operation: { case: 'setPayload', value: { payload: payload({ batch: true }), pointsSelector: { pointsSelectorOneOf: { case: 'points', value: { ids: [num(8)] } } } } } },
            { operation: { case: 'deletePoints', value: { points: { pointsSelectorOneOf: { case: 'points', value: { ids: [num(8)] } } } } } },
        ],
    });
    assert.equal(res.result.length, 3);
    assert.equal((await rest('GET', `/collections/${C}/points/8`)).status, 404);
});

test('collection update over gRPC, seen over REST', async () => {
    await g.api('collections').update({ collectionName: C, optimizersConfig: { indexingThreshold: 12345n } });
    const info = await restOk('GET', `/collections/${C}`);
    assert.equal(info.config.optimizer_config.indexing_threshold, 12345);
    const gi = await g.api('collections').get({ collectionName: C });
    assert.equal(Number(gi.result.config.optimizerConfig.indexingThreshold), 12345);
});

test('datatypes: VectorParams.datatype over gRPC, converted vectors over both', async () => {
    const D = `${C}_dt`;
    await g.api('collections').delete({ collectionName: D }).catch(() => {});
    // Datatype Float16 = 3, Uint8 = 2; Distance Dot = 3 (collections.proto)
    await g.api('collections').create({
        collectionName: D,
        vectorsConfig: { config: { case: 'paramsMap', value: { map: {
            h: { size: 3n, distance: 3, datatype: 3 },
            b: { size: 3n, distance: 3, datatype: 2 },
            d: { size: 3n, distance: 3, datatype: 0 }, // Default: none given
        } } } },
    });
    const ri = await restOk('GET', `/collections/${D}`);
    assert.equal(ri.config.params.vectors.h.datatype, 'float16');
    assert.equal(ri.config.params.vectors.b.datatype, 'uint8');
    assert.equal(ri.config.params.vectors.d.datatype, undefined);
    const gi = await g.api('collections').get({ collectionName: D });
    const map = gi.result.config.params.vectorsConfig.config.value.map;
    assert.equal(map.h.datatype, 3);
    assert.equal(map.b.datatype, 2);
    await g.api('points').upsert({
        collectionName: D, wait: true,
        points: [{ id: num(1), vectors: { vectorsOptions: { case: 'vectors', value: { vectors: {
            h: { vector: { case: 'dense', value: { data: [0.1, -2.5, 1000.3] } } },
            b: { vector: { case: 'dense', value: { data: [1.9, -3, 300] } } },
        } } } } }],
    });
    const p = await restOk('GET', `/collections/${D}/points/1`);
    same(p.vector.h.map(f32), [f32(0.0999755859375), -2.5, 1000.5], 'float16 read back');
    same(p.vector.b, [1, 0, 255], 'uint8 read back');
    await g.api('collections').delete({ collectionName: D });
});

test('payload operations over gRPC, checked over REST', async () => {
    const sel = { pointsSelectorOneOf: { case: 'points', value: { ids: [num(1)] } } };
    const read = async () => (await restOk('GET', `/collections/${C}/points/1`)).payload;
    await g.api('points').setPayload({ collectionName: C, wait: true, pointsSelector: sel, payload: payload({ extra: BIG, tag: 'x' }) });
    same(await read(), { city: 'Berlin', n: 1, f: 0.5, ok: true, none: null, extra: BIG, tag: 'x' }, 'set');
    await g.api('points').deletePayload({ collectionName: C, wait: true, pointsSelector: sel, keys: ['tag', 'none'] });
    same(await read(), { city: 'Berlin', n: 1, f: 0.5, ok: true, extra: BIG }, 'delete keys');
    await g.api('points').overwritePayload({ collectionName: C, wait: true, pointsSelector: sel, payload: payload({ only: [1, 2] }) });
    same(await read(), { only: [1, 2] }, 'overwrite');
    await g.api('points').clearPayload({ collectionName: C, wait: true, points: sel });
    same(await read(), {}, 'clear');
    const byFilter = { pointsSelectorOneOf: { case: 'filter', value: { must: [keyword('city', 'Rome')] } } };
    await g.api('points').setPayload({ collectionName: C, wait: true, pointsSelector: byFilter, payload: payload({ rome: true }) });
    const rome = await restOk('GET', `/collections/${C}/points/${MAX}`);
    assert.equal(rome.payload.rome, true);
});

test('field index create and delete, facet on it', async () => {
    await g.api('points').createFieldIndex({ collectionName: C, wait: true, fieldName: 'city', fieldType: 0 });
    let info = await restOk('GET', `/collections/${C}`);
    assert.equal(info.payload_schema.city.data_type, 'keyword');
    const gi = await g.api('collections').get({ collectionName: C });
    assert.ok('city' in gi.result.payloadSchema);
    const fc = await g.api('points').facet({ collectionName: C, key: 'city', exact: true });
    const rfc = await restOk('POST', `/collections/${C}/facet`, { key: 'city', exact: true });
    same(
        fc.hits.map((h) => ({ value: h.value.variant.value, count: Number(h.count) })),
        rfc.hits.map((h) => ({ value: h.value, count: h.count })),
        'facet',
    );
    assert.ok(fc.hits.length > 0);
    await g.api('points').deleteFieldIndex({ collectionName: C, wait: true, fieldName: 'city' });
    info = await restOk('GET', `/collections/${C}`);
    assert.ok(!('city' in info.payload_schema));
});

test('delete points over gRPC', async () => {
    await g.api('points').delete({
        collectionName: C, wait: true,
        points: { pointsSelectorOneOf: { case: 'points', value: { ids: [num(7)] } } },
    });
    const r = await rest('GET', `/collections/${C}/points/7`);
    assert.equal(r.status, 404);
});

test('aliases over gRPC and REST', async () => {
    await g.api('collections').updateAliases({
        actions: [{ action: { case: 'createAlias', value: { collectionName: C, aliasName: ALIAS } } }],
    });
    const la = await g.api('collections').listAliases({});
    const rla = await restOk('GET', '/aliases');
    same(
        la.aliases.map((a) => ({ alias_name: a.aliasName, collection_name: a.collectionName })),
        rla.aliases,
        'aliases',
    );
    const lca = await g.api('collections').listCollectionAliases({ collectionName: C });
    assert.deepEqual(lca.aliases.map((a) => a.aliasName), [ALIAS]);
    const viaAlias = await g.api('points').count({ collectionName: ALIAS, exact: true });
    assert.equal(Number(viaAlias.result.count), POINTS.length);
    await g.api('collections').updateAliases({
        actions: [{ action: { case: 'deleteAlias', value: { aliasName: ALIAS } } }],
    });
    assert.deepEqual((await restOk('GET', '/aliases')).aliases, []);
});

test('snapshots: create, list, delete', async () => {
    const cr = await g.api('snapshots').create({ collectionName: C });
    const name = cr.snapshotDescription.name;
    assert.ok(name.endsWith('.snapshot'));
    const ls = await g.api('snapshots').list({ collectionName: C });
    const rls = await restOk('GET', `/collections/${C}/snapshots`);
    same(
        ls.snapshotDescriptions.map((s) => ({ name: s.name, size: Number(s.size), checksum: s.checksum })),
        rls.map((s) => ({ name: s.name, size: s.size, checksum: s.checksum })),
        'snapshot list',
    );
    await g.api('snapshots').delete({ collectionName: C, snapshotName: name });
    assert.deepEqual(await restOk('GET', `/collections/${C}/snapshots`), []);
});

test('full snapshots: create, list, delete', async () => {
    const cr = await g.api('snapshots').createFull({});
    const name = cr.snapshotDescription.name;
    const ls = await g.api('snapshots').listFull({});
    const rls = await restOk('GET', '/snapshots');
    same(ls.snapshotDescriptions.map((s) => s.name).sort(), rls.map((s) => s.name).sort(), 'full snapshot list');
    assert.ok(ls.snapshotDescriptions.some((s) => s.name === name));
    await g.api('snapshots').deleteFull({ snapshotName: name });
    assert.ok(!(await restOk('GET', '/snapshots')).some((s) => s.name === name));
});

test('errors: status codes and REST messages', async () => {
    const missing = await rest('GET', '/collections/g_missing');
    await assert.rejects(g.api('collections').get({ collectionName: 'g_missing' }), (e) => {
        assert.equal(e.code, ConnectErrorCode.NotFound);
        assert.equal(e.rawMessage, missing.json.status.error);
        return true;
    });
    await expectCode(
        g.api('points').search({ collectionName: C, vector: [1, 0], limit: 1n }),
        ConnectErrorCode.InvalidArgument, 'wrong dimension',
    );
    await expectCode(client('wrong-key').api('collections').list({}), ConnectErrorCode.Unauthenticated, 'bad key');
    await expectCode(client(undefined).api('collections').list({}), ConnectErrorCode.Unauthenticated, 'no key');
    const h = await client(undefined).api('service').healthCheck({});
    assert.equal(h.version, '1.19.0', 'health needs no key');
    if (RO_KEY) {
        const ro = client(RO_KEY);
        const c = await ro.api('points').count({ collectionName: C, exact: true });
        assert.equal(Number(c.result.count), POINTS.length);
        await expectCode(
            ro.api('points').upsert({ collectionName: C, points: [{ id: num(9), vectors: dense([1, 1, 1, 1]) }] }),
            ConnectErrorCode.PermissionDenied, 'read-only key writes',
        );
    }
    await expectCode(
        g.api('collections').createShardKey({ collectionName: C }),
        ConnectErrorCode.Unimplemented, 'create shard key',
    );
});

test('an unnamed dense vector beside a sparse one: create, upsert, get and RRF query as REST', async () => {
    // Qdrant 1.19: VectorsConfig params next to sparse_vectors_config; the
    // dense vector is named "" in NamedVectors; a point whose only vector
    // is "" comes back unnamed (VectorsOutput.vector), otherwise named.
    const H = 'g_hybrid';
    await g.api('collections').delete({ collectionName: H }).catch(() => {});
    await g.api('collections').create({
        collectionName: H,
        vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } },
        sparseVectorsConfig: { map: { text: { modifier: 1 } } }, // Idf
    });
    const ri = await restOk('GET', `/collections/${H}`);
    assert.equal(ri.config.params.vectors.size, 4);
    assert.deepEqual(Object.keys(ri.config.params.sparse_vectors), ['text']);
    assert.equal(ri.config.params.sparse_vectors.text.modifier, 'idf');
    const gi = await g.api('collections').get({ collectionName: H });
    const gp = gi.result.config.params;
    assert.equal(gp.vectorsConfig.config.case, 'params');
    assert.equal(Number(gp.vectorsConfig.config.value.size), 4);
    assert.deepEqual(Object.keys(gp.sparseVectorsConfig.map), ['text']);
    assert.equal(gp.sparseVectorsConfig.map.text.modifier, 1);
    const sparse = (indices, values) => ({ vector: { case: 'sparse', value: { indices, values } } });
    const named = (m) => ({ vectorsOptions: { case: 'vectors', value: { vectors: m } } });
    await g.api('points').upsert({
        collectionName: H,
        wait: true,
        points: [
            { id: num(1), vectors: named({ '': { vector: { case: 'dense', value: { data: [1, 0, 0, 0] } } }, text: sparse([1, 3], [0.5, 1]) }) },
            { id: num(2), vectors: dense([0, 1, 0, 0]) },
            { id: num(3), vectors: named({ text: sparse([3], [2]) }) },
        ],
    });
    const rg = await restOk('POST', `/collections/${H}/points`, { ids: [1, 2, 3], with_vector: true });
    const byId = Object.fromEntries(rg.map((p) => [p.id, p.vector]));
    assert.deepEqual(byId[2], [0, 1, 0, 0]);
    assert.deepEqual(Object.keys(byId[1]).sort(), ['', 'text']);
    assert.deepEqual(Object.keys(byId[3]), ['text']);
    const gg = await g.api('points').get({ collectionName: H, ids: [num(1), num(2), num(3)], withVectors });
    const gv = Object.fromEntries(gg.result.map((p) => [Number(restId(p.id)), p.vectors.vectorsOptions]));
    assert.equal(gv[2].case, 'vector');
    assert.equal(gv[1].case, 'vectors');
    assert.deepEqual(Object.keys(gv[1].value.vectors).sort(), ['', 'text']);
    const sv = gv[1].value.vectors.text.vector.value;
    assert.deepEqual([...sv.indices], [1, 3]);
    const nearest = (v) => ({ variant: { case: 'nearest', value: { variant: v } } });
    const q = await g.api('points').query({
        collectionName: H,
        prefetch: [
            { query: nearest({ case: 'dense', value: { data: [1, 0, 0, 0] } }), limit: 2n },
            { query: nearest({ case: 'sparse', value: { indices: [1, 3], values: [1, 1] } }), using: 'text', limit: 3n },
        ],
        query: { variant: { case: 'fusion', value: 0 } },
        limit: 10n,
    });
    const rq = await restOk('POST', `/collections/${H}/points/query`, {
        prefetch: [
            { query: [1, 0, 0, 0], limit: 2 },
            { query: { indices: [1, 3], values: [1, 1] }, using: 'text', limit: 3 },
        ],
        query: { fusion: 'rrf' },
        limit: 10,
    });
    same(q.result.map((p) => ({ id: restId(p.id), score: p.score })), rq.points.map((p) => ({ id: p.id, score: f32(p.score) })), 'hybrid query');
    // Dense ranks 1, 2; sparse (idf) ranks 1, 3: 1 is first in both, 2
    // and 3 tie on a second place each (the lower id first).
    assert.deepEqual(rq.points.map((p) => p.id), [1, 2, 3]);
    // Recommend (best_score) and MMR on the sparse vector: the same
    // handlers as REST, reached through the gRPC converter.
    const rec = await g.api('points').query({
        collectionName: H,
        query: { variant: { case: 'recommend', value: {
            positive: [{ variant: { case: 'id', value: num(1) } }, { variant: { case: 'sparse', value: { indices: [3], values: [1] } } }],
            strategy: 1, // BestScore
        } } },
        using: 'text',
        limit: 10n,
    });
    const rrec = await restOk('POST', `/collections/${H}/points/query`, {
        query: { recommend: { positive: [1, { indices: [3], values: [1] }], strategy: 'best_score' } },
        using: 'text',
        limit: 10,
    });
    assert.ok(rrec.points.length > 0);
    same(rec.result.map((p) => ({ id: restId(p.id), score: p.score })), rrec.points.map((p) => ({ id: p.id, score: f32(p.score) })), 'sparse recommend');
    const mmr = await g.api('points').query({
        collectionName: H,
        query: { variant: { case: 'nearestWithMmr', value: {
            nearest: { variant: { case: 'sparse', value: { indices: [1, 3], values: [1, 1] } } },
            mmr: { diversity: 0.7, candidatesLimit: 10 },
        } } },
        using: 'text',
        limit: 2n,
    });
    const rmmr = await restOk('POST', `/collections/${H}/points/query`, {
        query: { nearest: { indices: [1, 3], values: [1, 1] }, mmr: { diversity: 0.7, candidates_limit: 10 } },
        using: 'text',
        limit: 2,
    });
    assert.equal(rmmr.points.length, 2);
    same(mmr.result.map((p) => ({ id: restId(p.id), score: p.score })), rmmr.points.map((p) => ({ id: p.id, score: f32(p.score) })), 'sparse mmr');
    await g.api('collections').delete({ collectionName: H });
});

test('multivector and binary quantization configs over gRPC: as REST shows them', async () => {
    // Two-word enum values (MaxSim, OneAndHalfBits) reach REST in serde's
    // snake_case: max_sim, one_and_half_bits.
    const M = 'g_multi';
    await g.api('collections').delete({ collectionName: M }).catch(() => {});
    await g.api('collections').create({
        collectionName: M,
        vectorsConfig: { config: { case: 'params', value: {
            size: 3n, distance: 2, // Euclid
            multivectorConfig: { comparator: 0 }, // MaxSim
            quantizationConfig: { quantization: { case: 'binary', value: { encoding: 2 } } }, // OneAndHalfBits
        } } },
    });
    const ri = await restOk('GET', `/collections/${M}`);
    assert.deepEqual(ri.config.params.vectors.multivector_config, { comparator: 'max_sim' });
    assert.equal(ri.config.params.vectors.quantization_config.binary.encoding, 'one_and_half_bits');
    const gi = await g.api('collections').get({ collectionName: M });
    const vp = gi.result.config.params.vectorsConfig.config.value;
    assert.equal(vp.multivectorConfig.comparator, 0);
    assert.equal(vp.quantizationConfig.quantization.value.encoding, 2);
    await g.api('points').upsert({
        collectionName: M,
        wait: true,
        points: [1, 2, 3].map((i) => ({ id: num(i), vectors: { vectorsOptions: { case: 'vector', value: {
            vector: { case: 'multiDense', value: { vectors: [{ data: [i, 0, 1] }, { data: [0, i, 0] }] } },
        } } } })),
    });
    const q = await g.api('points').query({
        collectionName: M,
        query: { variant: { case: 'nearest', value: { variant: { case: 'multiDense', value: { vectors: [{ data: [1, 1, 1] }] } } } } },
        limit: 3n,
    });
    const rq = await restOk('POST', `/collections/${M}/points/query`, { query: [[1, 1, 1]], limit: 3 });
    assert.equal(rq.points.length, 3);
    same(q.result.map((p) => ({ id: restId(p.id), score: p.score })), rq.points.map((p) => ({ id: p.id, score: f32(p.score) })), 'multivector query');
    await g.api('collections').delete({ collectionName: M });
});

test('delete the collection over gRPC', async () => {
    const res = await g.api('collections').delete({ collectionName: C });
    assert.equal(res.result, true);
    assert.equal((await rest('GET', `/collections/${C}`)).status, 404);
});
