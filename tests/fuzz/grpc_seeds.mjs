// grpc_seeds.mjs -- writes the seed inputs of fuzz_grpc (tests/fuzz/
// corpus/grpc/): one or more well-formed calls of every method of
// Qdrant's gRPC services, encoded by Qdrant's own JavaScript client's
// message classes (protobuf-es), so the seeds are what real clients send.
//
// An input is: byte 0 the method's index (services in the order Qdrant,
// Collections, Points, Snapshots, grpc.health.v1.Health, methods in
// declaration order: fuzz_grpc.c numbers them the same way), byte 1 the
// flags (bit 0: grpc-encoding gzip), then the request body as framed on
// the wire (a 5-byte prefix and the message).
//
// Usage (from tests/clients, where the npm packages are):
//   node ../fuzz/grpc_seeds.mjs ../fuzz/corpus/grpc
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const modules = new URL('../clients/node_modules/', import.meta.url);
const { create, toBinary } = await import(new URL('@bufbuild/protobuf/dist/esm/index.js', modules));
const base = new URL('@qdrant/js-client-grpc/dist/esm/proto/', modules);
const load = async (f) => import(new URL(f, base));
const { Qdrant } = await load('qdrant_pb.js');
const { Collections } = await load('collections_service_pb.js');
const { Points } = await load('points_service_pb.js');
const { Snapshots } = await load('snapshots_service_pb.js');
const services = [Qdrant, Collections, Points, Snapshots];

const out = process.argv[2];
mkdirSync(out, { recursive: true });

const num = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const uuid = (u) => ({ pointIdOptions: { case: 'uuid', value: u } });
const dense = (data) => ({ vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data } } } } });
const str = (s) => ({ kind: { case: 'stringValue', value: s } });
const int = (i) => ({ kind: { case: 'integerValue', value: BigInt(i) } });
const kw = (key, v) => ({ conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'keyword', value: v } } } } });
const filter = { must: [kw('k', 'a')], should: [{ conditionOneOf: { case: 'field', value: { key: 'n', range: { gte: 1, lt: 10 } } } }] };
const ids = { pointsSelectorOneOf: { case: 'points', value: { ids: [num(1), uuid('550e8400-e29b-41d4-a716-446655440000')] } } };
const byFilter = { pointsSelectorOneOf: { case: 'filter', value: filter } };
const on = { selectorOptions: { case: 'enable', value: true } };
const point = (id, v, p) => ({ id, vectors: dense(v), payload: p });

const calls = {
    'Collections.Create': [{ collectionName: 'zz', vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: 1 } } } },
        { collectionName: 'zz', vectorsConfig: { config: { case: 'paramsMap', value: { map: { a: { size: 2n, distance: 3 } } } } } }],
    'Collections.Get': [{ collectionName: 'c' }, { collectionName: 'zz' }],
    'Collections.Update': [{ collectionName: 'c', optimizersConfig: { indexingThreshold: 100n } }],
    'Collections.Delete': [{ collectionName: 'zz' }],
    'Collections.UpdateAliases': [{ actions: [{ action: { case: 'createAlias', value: { collectionName: 'c', aliasName: 'al' } } }] }],
    'Collections.CollectionExists': [{ collectionName: 'c' }],
    'Collections.ListCollectionAliases': [{ collectionName: 'c' }],
    'Points.Upsert': [{ collectionName: 'c', wait: true, points: [point(num(5), [1, 2, 3, 4], { k: str('a'), n: int(3) }),
        point(uuid('550e8400-e29b-41d4-a716-446655440000'), [0, 1, 0, 0], { big: int(9007199254740993n) })] }],
    'Points.Delete': [{ collectionName: 'c', wait: true, points: ids }, { collectionName: 'c', points: byFilter }],
    'Points.Get': [{ collectionName: 'c', ids: [num(1), num(2)], withPayload: on, withVectors: on }],
    'Points.UpdateVectors': [{ collectionName: 'c', points: [{ id: num(1), vectors: dense([4, 3, 2, 1]) }] }],
    'Points.DeleteVectors': [{ collectionName: 'c', pointsSelector: ids, vectors: { names: [''] } }],
    'Points.SetPayload': [{ collectionName: 'c', pointsSelector: ids, payload: { x: str('y') } }],
    'Points.OverwritePayload': [{ collectionName: 'c', pointsSelector: byFilter, payload: { x: int(1) } }],
    'Points.DeletePayload': [{ collectionName: 'c', pointsSelector: ids, keys: ['k'] }],
    'Points.ClearPayload': [{ collectionName: 'c', points: ids }],
    'Points.CreateFieldIndex': [{ collectionName: 'c', fieldName: 'k', fieldType: 0 }],
    'Points.DeleteFieldIndex': [{ collectionName: 'c', fieldName: 'k' }],
    // Search, Query and their batches with a dense vector take the direct
    // path (server/grpc/grpc_fast.c); a wrong dimension and a NaN fall
    // back to the JSON route.
    'Points.Search': [{ collectionName: 'c', vector: [1, 0, 0, 0], limit: 3n, filter, withPayload: on },
        { collectionName: 'c', vector: [0.5, 0.5, 0, 0], vectorName: '', limit: 2n, offset: 1n, scoreThreshold: 0.1, withVectors: on,
          withPayload: { selectorOptions: { case: 'include', value: { fields: ['big', 'k'] } } }, params: { hnswEf: 8n } },
        { collectionName: 'c', vector: [1, 0, 0], limit: 1n },
        { collectionName: 'c', vector: [NaN, 0, 0, 0], limit: 1n }],
    'Points.SearchBatch': [{ collectionName: 'c', searchPoints: [{ collectionName: 'c', vector: [1, 0, 0, 0], limit: 2n }] }],
    'Points.Scroll': [{ collectionName: 'c', limit: 2, offset: num(2), filter, withPayload: on, withVectors: on }],
    'Points.Recommend': [{ collectionName: 'c', positive: [num(1)], negative: [num(2)], limit: 2n }],
    'Points.RecommendBatch': [{ collectionName: 'c', recommendPoints: [{ collectionName: 'c', positive: [num(1)], limit: 2n }] }],
    'Points.Count': [{ collectionName: 'c', filter, exact: true }],
    'Points.Query': [{ collectionName: 'c', query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 0, 1, 0] } } } } }, limit: 2n, filter },
        { collectionName: 'c', prefetch: [{ query: { variant: { case: 'nearest', value: { variant: { case: 'id', value: num(1) } } } }, limit: 5n }], query: { variant: { case: 'fusion', value: 0 } } },
        { collectionName: 'c', query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [1, 1, 0, 0] } } } } }, using: '', offset: 1n,
          scoreThreshold: -0.5, withVectors: on, withPayload: { selectorOptions: { case: 'exclude', value: { fields: ['k'] } } }, params: { exact: true } }],
    'Points.QueryBatch': [{ collectionName: 'c', queryPoints: [{ collectionName: 'c', query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 1, 0, 0] } } } } } }] },
        { collectionName: 'c', queryPoints: [{ query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 1, 0, 0] } } } } }, limit: 1n, withPayload: on },
            { query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: [0, 0, 1] } } } } } }] }],
    'Points.UpdateBatch': [{ collectionName: 'c', operations: [
        { operation: { case: 'upsert', value: { points: [point(num(9), [1, 1, 1, 1], { k: str('b') })] } } },
        { operation: { case: 'setPayload', value: { payload: { z: int(1) }, pointsSelector: ids } } },
        { operation: { case: 'deletePoints', value: { points: byFilter } } }] }],
    'Points.SearchGroups': [{ collectionName: 'c', vector: [1, 0, 0, 0], groupBy: 'k', limit: 2, groupSize: 1 }],
    'Points.RecommendGroups': [{ collectionName: 'c', positive: [num(1)], groupBy: 'k', limit: 2, groupSize: 1 }],
    'Points.QueryGroups': [{ collectionName: 'c', query: { variant: { case: 'nearest', value: { variant: { case: 'id', value: num(2) } } } }, groupBy: 'k', limit: 2n, groupSize: 1n }],
    'Points.Facet': [{ collectionName: 'c', key: 'k', exact: true, filter }],
    'Points.SearchMatrixPairs': [{ collectionName: 'c', sample: 3n, limit: 1n }],
    'Points.SearchMatrixOffsets': [{ collectionName: 'c', sample: 3n, limit: 1n, filter }],
    'Snapshots.DeleteFull': [{ snapshotName: 'none.snapshot' }],
    'Snapshots.Create': [{ collectionName: 'c' }],
    'Snapshots.List': [{ collectionName: 'c' }],
    'Snapshots.Delete': [{ collectionName: 'c', snapshotName: 'none.snapshot' }],
};

function frame(bytes, gzip) {
    const msg = gzip ? gzipSync(bytes) : bytes;
    const b = Buffer.alloc(5 + msg.length);
    b[0] = gzip ? 1 : 0;
    b.writeUInt32BE(msg.length, 1);
    Buffer.from(msg).copy(b, 5);
    return b;
}

function write(index, gzip, body) {
    const input = Buffer.concat([Buffer.from([index, gzip ? 1 : 0]), body]);
    const name = createHash('sha1').update(input).digest('hex');
    writeFileSync(`${out}/${name}`, input);
}

let index = 0;
for (const svc of services) {
    for (const m of svc.methods) {
        const key = `${svc.name}.${m.name}`;
        const inits = calls[key] ?? [{ collectionName: 'c' }];
        inits.forEach((init, i) => {
            const bytes = toBinary(m.input, create(m.input, init));
            write(index, false, frame(bytes, false));
            if (i === 0 && key === 'Points.Upsert') write(index, true, frame(bytes, true));
        });
        index++;
    }
}
// grpc.health.v1.Health/Check (not in the JavaScript client): an empty
// message.
write(index, false, frame(new Uint8Array(0), false));
// Broken framing: a short prefix, a long prefix, two messages.
write(0, false, Buffer.from([0, 0, 0]));
write(0, false, Buffer.from([0, 0, 0, 0, 9, 1]));
write(0, false, Buffer.concat([frame(new Uint8Array(0), false), frame(new Uint8Array(0), false)]));
console.log(`${index + 1} methods`);
