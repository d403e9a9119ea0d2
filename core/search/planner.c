/*
 * planner.c -- how a search runs: graph walk or exact scan, and with what
 * beam, given its filter.
 *
 * Without a filter the rule is Qdrant's: the graph above the collection's
 * full-scan threshold, the scan below it or when exact search is asked
 * for.  With a filter, HNSW only keeps matching nodes out of what it
 * visits, so its recall falls as the filter gets selective: a beam of ef
 * holds about ef * s matches for a selectivity s.  The planner therefore
 * needs s, and gets it
 *   - exactly, from the payload indexes, when they answer the filter
 *     exactly (search/candidates.c: the candidate bitmap is the set of
 *     matching points, its popcount the count);
 *   - as an upper bound from an inexact candidate set, refined by a
 *     sample of the candidates when that bound is not already small;
 *   - from a sample of all points when no index helps.
 * Then it
 *   - scans when the matching points' vectors are below the full-scan
 *     threshold or s is under SCAN_BELOW: the scan then reads few
 *     matching vectors -- only the candidates' when there is a bitmap --
 *     and is exact; with an exact bitmap it also scans whenever the
 *     matches are fewer than the distances the widened walk would
 *     compute (about GRAPH_VISITS per unit of beam: measured on 100k x
 *     128 points, an unfiltered walk with ef 128 computes ~2,700);
 *   - otherwise walks the graph with the beam widened to ef / s, so that
 *     about ef matching candidates are kept, as without a filter.
 * The sample costs SAMPLE filter evaluations and is deterministic, so the
 * same query plans the same way.  An estimate can still be wrong; callers
 * that get fewer than k hits from a filtered graph walk redo the query
 * with a scan, which is exact.
 */
#include "core/core.h"
#include "core/search/search.h"

#define SAMPLE       512u
#define SCAN_BELOW   0.05
#define MIN_SEEN     64u
#define GRAPH_VISITS 16.0

/* Fraction of the live points that match q, from SAMPLE slots spread by
 * the golden-ratio (Weyl) sequence: deterministic, even, and free of the
 * aliasing an evenly stepped sample suffers when payloads repeat with the
 * insertion order (shard = i % 40 sampled every 40th slot reads 100%).
 * *seen gets the number of live slots the sample hit. */
static double estimate_selectivity(const qv_collection *c,
                                   const qvi_candidates *q, uint32_t *seen)
{
    uint32_t hits = 0;
    uint64_t x = 0;
    *seen = 0;
    for (uint32_t i = 0; i < SAMPLE && c->used; i++) {
        x += 0x9e3779b97f4a7c15ull;
        uint32_t s = (uint32_t)(((x >> 32) * (uint64_t)c->used) >> 32);
        if (!c->live[s])
            continue;
        (*seen)++;
        hits += qvi_candidates_match(q, s);
    }
    return *seen ? (double)hits / *seen : 0.0;
}

qvi_plan qvi_plan_search_locked(const qv_collection *c,
                                const qv_search_params *params,
                                const qvi_candidates *q)
{
    qvi_plan plan = {.graph = false, .ef = qvi_default_ef(params)};
    if (!qvi_index_should_use(c, params))
        return plan;
    if (!q || !q->f) {
        plan.graph = true;
        return plan;
    }
    double s;
    double bound = c->count ? (double)q->n_cand / (double)c->count : 0.0;
    if (q->exact && q->cand) {
        s = bound;
        /* An exact bitmap makes the scan cost one distance per match; the
         * walk costs about GRAPH_VISITS distances per unit of its widened
         * beam ef / s.  Scan while it is the cheaper. */
        if ((double)q->n_cand * s < GRAPH_VISITS * plan.ef)
            return plan;
    } else if (q->exact || q->estimated || bound < SCAN_BELOW) {
        /* Exact, an index estimate, or an upper bound already low enough
         * to scan. */
        s = bound;
    } else {
        uint32_t seen;
        s = estimate_selectivity(c, q, &seen);
        if (seen < MIN_SEEN)
            return plan; /* mostly deleted slots: too few to estimate */
    }
    double match_kb = s * (double)c->count * c->cfg.dim * c->elem / 1024.0;
    if (s < SCAN_BELOW || match_kb < (double)c->cfg.full_scan_threshold_kb)
        return plan;
    double ef = plan.ef / s;
    plan.ef = ef > QV_MAX_EF ? QV_MAX_EF : (uint32_t)ef;
    plan.graph = true;
    return plan;
}
