/*
 * planner.c -- how a search runs: graph walk or exact scan, and with what
 * beam, given its filter.
 *
 * Without a filter the rule is Qdrant's: the graph above the collection's
 * full-scan threshold, the scan below it or when exact search is asked
 * for.  With a filter, HNSW only keeps matching nodes out of what it
 * visits, so its recall falls as the filter gets selective: a beam of ef
 * holds about ef * s matches for a selectivity s.  The planner therefore
 * estimates s on a sample of the points (there are no payload indexes yet
 * to count matches exactly), and
 *   - scans when the matching points' vectors are below the full-scan
 *     threshold or s is under SCAN_BELOW: the scan then reads few
 *     matching vectors per filter evaluation and is exact;
 *   - otherwise walks the graph with the beam widened to ef / s, so that
 *     about ef matching candidates are kept, as without a filter.
 * The sample is evenly spaced over the slots (deterministic, so the same
 * query plans the same way) and costs SAMPLE filter evaluations.
 */
#include "core/core.h"

#define SAMPLE     512u
#define SCAN_BELOW 0.05

/* Fraction of the live points that match f, from an evenly spaced
 * sample of at most SAMPLE live slots. */
static double estimate_selectivity(const qv_collection *c,
                                   const struct qvi_filter *f)
{
    uint32_t step = c->used / SAMPLE ? c->used / SAMPLE : 1;
    uint32_t seen = 0, hits = 0;
    for (uint32_t s = 0; s < c->used; s += step) {
        if (!c->live[s])
            continue;
        seen++;
        hits += qvi_slot_matches(c, f, s);
    }
    return seen ? (double)hits / seen : 0.0;
}

qvi_plan qvi_plan_search_locked(const qv_collection *c,
                                const qv_search_params *params)
{
    qvi_plan plan = {.graph = false, .ef = qvi_default_ef(params)};
    if (!qvi_index_should_use(c, params))
        return plan;
    const struct qvi_filter *f = qvi_filter_of(params->filter);
    if (!f) {
        plan.graph = true;
        return plan;
    }
    double s = estimate_selectivity(c, f);
    double match_kb =
        s * (double)c->count * c->cfg.dim * sizeof(float) / 1024.0;
    if (s < SCAN_BELOW || match_kb < (double)c->cfg.full_scan_threshold_kb)
        return plan;
    double ef = plan.ef / s;
    plan.ef = ef > QV_MAX_EF ? QV_MAX_EF : (uint32_t)ef;
    plan.graph = true;
    return plan;
}
