// harness.mjs -- what the client tests share: where the server is, a record
// of every HTTP exchange, and a brute-force oracle for scores.
//
// The tests drive `quiver serve` through the official clients, which call
// the global fetch.  Wrapping that fetch lets us (1) print the requests and
// responses of a failed step, so a failure says what was sent and what came
// back, and (2) append each response to the JSONL file named by
// QUIVER_RESPONSE_LOG ({"method","path","status","body"} per line), which
// tests/schema/validate_responses.py checks against Qdrant's OpenAPI schema.
//
// The oracle recomputes every expected score from the vectors the test
// uploaded, in float32 as the server stores them, with Qdrant's semantics:
// Cosine vectors are normalised at insert and the score is their dot
// product; Dot is the raw dot product; Euclid and Manhattan report the
// distance itself and rank ascending.

import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { test } from 'node:test';

export const URL_ = process.env.QUIVER_URL;
export const API_KEY = process.env.QUIVER_API_KEY;
const LOG = process.env.QUIVER_RESPONSE_LOG;

if (!URL_) {
    throw new Error('QUIVER_URL is not set: run these tests through tests/clients/run.sh');
}

// ---- recording fetch -------------------------------------------------------

const exchanges = []; // of the current step
const inflight = new Set();
const realFetch = globalThis.fetch;

function clip(s, n = 1500) {
    if (s === undefined || s === null) return '';
    s = String(s);
    return s.length <= n ? s : `${s.slice(0, n)} ... (${s.length} bytes)`;
}

function parseBody(text) {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

async function recordingFetch(input, init = {}) {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const entry = { method, path: url.pathname + url.search, reqBody: init.body };
    exchanges.push(entry);
    const p = (async () => {
        let res;
        try {
            res = await realFetch(input, init);
        } catch (e) {
            entry.error = String(e);
            throw e;
        }
        const text = await res.clone().text();
        entry.status = res.status;
        entry.resBody = text;
        if (LOG) {
            const line = {
                method,
                path: url.pathname + url.search,
                status: res.status,
                content_type: res.headers.get('content-type') ?? '',
                body: parseBody(text),
            };
            appendFileSync(LOG, `${JSON.stringify(line)}\n`);
        }
        return res;
    })();
    inflight.add(p);
    try {
        return await p;
    } finally {
        inflight.delete(p);
    }
}
globalThis.fetch = recordingFetch;

/** Waits until no request is in flight (e.g. the client's version check). */
export async function settle() {
    while (inflight.size > 0) {
        await Promise.allSettled([...inflight]);
    }
    await new Promise((r) => setImmediate(r));
}

function trail() {
    if (exchanges.length === 0) return '  (no HTTP exchange in this step)';
    return exchanges
        .slice(-8)
        .map(
            (e) =>
                `  > ${e.method} ${e.path}${e.reqBody ? `\n    ${clip(e.reqBody)}` : ''}\n` +
                `  < ${e.error ? `network error: ${e.error}` : `${e.status} ${clip(e.resBody)}`}`,
        )
        .join('\n');
}

/**
 * A test step: a node:test test whose failure message ends with the last
 * HTTP exchanges it made.  Steps in a file run in order and share state.
 */
export function step(name, fn) {
    test(name, async () => {
        exchanges.length = 0;
        try {
            await fn();
        } catch (e) {
            const extra = `\n--- last HTTP exchanges of step "${name}":\n${trail()}`;
            if (e instanceof Error) {
                // Reporters print either the message or the stack.
                e.message += extra;
                if (typeof e.stack === 'string') e.stack += extra;
                throw e;
            }
            throw new Error(String(e) + extra);
        }
    });
}

// ---- console warnings ------------------------------------------------------

/** Collects console.warn output so a test can assert on it. */
export const warnings = [];
const realWarn = console.warn;
console.warn = (...args) => {
    warnings.push(args.map(String).join(' '));
    realWarn(...args);
};

// ---- errors ------------------------------------------------------------------

/**
 * Runs fn, which must fail with an HTTP error of the given status; returns
 * the error message of Qdrant's envelope ({"status":{"error":...}}) or the
 * raw body when the body is not an envelope.
 */
export async function expectHttpError(status, fn) {
    let err;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    assert.ok(err, `expected an HTTP ${status} error, the call succeeded`);
    assert.equal(err.status, status, `expected HTTP ${status}, got: ${err.status} ${err.message}`);
    const d = err.data;
    if (d && typeof d === 'object' && d.status && typeof d.status === 'object') {
        return String(d.status.error);
    }
    return typeof d === 'string' ? d : JSON.stringify(d);
}

// ---- oracle --------------------------------------------------------------------

export const f32 = (v) => v.map((x) => Math.fround(x));

export function normalize(v) {
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return n === 0 ? v.slice() : v.map((x) => x / n);
}

export const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);

const metrics = {
    Cosine: { score: (q, v) => dot(normalize(q), normalize(v)), higherBetter: true },
    Dot: { score: dot, higherBetter: true },
    Euclid: {
        score: (q, v) => Math.sqrt(q.reduce((s, x, i) => s + (x - v[i]) ** 2, 0)),
        higherBetter: false,
    },
    Manhattan: {
        score: (q, v) => q.reduce((s, x, i) => s + Math.abs(x - v[i]), 0),
        higherBetter: false,
    },
};

/**
 * The expected ranking of query q over points [{id, vector}] under a
 * distance: [{id, score}] best first, with Qdrant's threshold rule (higher
 * than it for similarities, lower for distances) and offset/limit applied.
 */
export function rank(distance, q, points, opts = {}) {
    const m = metrics[distance];
    assert.ok(m, `unknown distance ${distance}`);
    const qf = f32(q);
    return rankBy((v) => m.score(qf, v), points, { ...opts, higherBetter: m.higherBetter });
}

/**
 * The same for any scoring function of a stored vector (recommend
 * strategies).  It also checks that the ranking has no near-ties up to the
 * cut, so the expected order is well defined.
 */
export function rankBy(score, points, { limit = 10, offset = 0, threshold, exclude = [], higherBetter = true } = {}) {
    const skip = new Set(exclude.map(String));
    let all = points
        .filter((p) => p.vector && !skip.has(String(p.id)))
        .map((p) => ({ id: p.id, score: score(f32(p.vector)) }));
    all.sort((a, b) => (higherBetter ? b.score - a.score : a.score - b.score));
    if (threshold !== undefined) {
        all = all.filter((r) => (higherBetter ? r.score > threshold : r.score < threshold));
    }
    const cut = all.slice(0, offset + limit + 1);
    for (let i = 1; i < cut.length; i++) {
        assert.ok(
            Math.abs(cut[i].score - cut[i - 1].score) > 1e-4,
            `test data has a near-tie between ids ${cut[i - 1].id} and ${cut[i].id}`,
        );
    }
    return all.slice(offset, offset + limit);
}

/** Asserts that scored points [{id, score}] equal the expected ranking. */
export function assertRanking(got, expected, what) {
    const g = got.map((p) => `${p.id}:${Number(p.score).toFixed(4)}`);
    const e = expected.map((p) => `${p.id}:${Number(p.score).toFixed(4)}`);
    const msg = `${what}: got [${g.join(', ')}], expected [${e.join(', ')}]`;
    assert.deepEqual(
        got.map((p) => p.id),
        expected.map((p) => p.id),
        msg,
    );
    for (let i = 0; i < got.length; i++) {
        assert.ok(Math.abs(got[i].score - expected[i].score) < 1e-4, msg);
    }
}

/** Asserts two float vectors are equal to float32 precision. */
export function assertVector(got, expected, what) {
    assert.ok(Array.isArray(got), `${what}: expected a vector, got ${JSON.stringify(got)}`);
    assert.equal(got.length, expected.length, `${what}: length`);
    for (let i = 0; i < got.length; i++) {
        assert.ok(
            Math.abs(got[i] - expected[i]) < 1e-5,
            `${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
        );
    }
}

/** Polls fn until it returns true, for at most ms milliseconds. */
export async function eventually(fn, what, ms = 5000) {
    const end = Date.now() + ms;
    for (;;) {
        if (await fn()) return;
        if (Date.now() > end) assert.fail(`${what}: not true after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
    }
}
