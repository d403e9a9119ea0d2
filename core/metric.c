/*
 * metric.c -- metric names and the mapping between internal distances and
 * the scores the API reports.
 *
 * Internally every metric is a distance where lower is better, so that one
 * heap and one HNSW serve all four: cosine and dot use -dot (cosine vectors
 * are unit length), euclid uses the squared L2 distance (cheaper, same
 * order) and manhattan the L1 distance.  Scores are converted back only for
 * the k hits that are returned.
 */
#include "core/core.h"
#include "simd/simd.h"

#include <math.h>
#include <strings.h>

static const char *const metric_names[] = {
    [QV_METRIC_COSINE] = "Cosine",
    [QV_METRIC_DOT] = "Dot",
    [QV_METRIC_EUCLID] = "Euclid",
    [QV_METRIC_MANHATTAN] = "Manhattan",
};

const char *qv_metric_name(qv_metric metric)
{
    if ((unsigned)metric > QV_METRIC_MANHATTAN)
        return NULL;
    return metric_names[metric];
}

qv_status qv_metric_parse(const char *name, qv_metric *out)
{
    static const struct {
        const char *name;
        qv_metric metric;
    } aliases[] = {
        {"cosine", QV_METRIC_COSINE},       {"dot", QV_METRIC_DOT},
        {"euclid", QV_METRIC_EUCLID},       {"l2", QV_METRIC_EUCLID},
        {"manhattan", QV_METRIC_MANHATTAN}, {"l1", QV_METRIC_MANHATTAN},
    };
    if (!name || !out)
        return QV_ENULL;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].name) == 0) {
            *out = aliases[i].metric;
            return QV_OK;
        }
    }
    return QV_EINVAL;
}

bool qv_metric_higher_is_better(qv_metric metric)
{
    return metric == QV_METRIC_COSINE || metric == QV_METRIC_DOT;
}

qv_status qv_vector_similarity(qv_metric metric, const float *a, const float *b,
                               uint32_t dim, float *out)
{
    if (!a || !b || !out)
        return QV_ENULL;
    if ((unsigned)metric > QV_METRIC_MANHATTAN || dim == 0)
        return QV_EINVAL;
    const qvi_kernels *k = qvi_simd();
    switch (metric) {
    case QV_METRIC_COSINE:
    case QV_METRIC_DOT:
        *out = k->dot(a, b, dim);
        break;
    case QV_METRIC_EUCLID:
        *out = -k->l2sq(a, b, dim);
        break;
    case QV_METRIC_MANHATTAN:
        *out = -k->l1(a, b, dim);
        break;
    }
    return QV_OK;
}

float qvi_slot_distance(const qv_collection *c, const float *q, uint32_t slot)
{
    if (c->narrow) {
        /* The query's encoding follows its floats (qvi_prepare_query). */
        const float *qn = q + c->stride;
        const float *v = qvi_row(c, slot);
        switch (c->cfg.metric) {
        case QV_METRIC_COSINE:
            if (c->rowk[QVI_ROWK_COS]) /* uint8: bytes kept unnormalised */
                return -c->rowk[QVI_ROWK_COS](qn, v, c->cfg.dim);
            return -c->rowk[QVI_ROWK_DOT](qn, v, c->cfg.dim);
        case QV_METRIC_DOT:
            return -c->rowk[QVI_ROWK_DOT](qn, v, c->cfg.dim);
        case QV_METRIC_EUCLID:
            return c->rowk[QVI_ROWK_L2SQ](qn, v, c->cfg.dim);
        case QV_METRIC_MANHATTAN:
            return c->rowk[QVI_ROWK_L1](qn, v, c->cfg.dim);
        }
        return INFINITY;
    }
    const qvi_kernels *k = qvi_simd();
    const float *v = qvi_row(c, slot);
    switch (c->cfg.metric) {
    case QV_METRIC_COSINE:
    case QV_METRIC_DOT:
        return -k->dot(q, v, c->cfg.dim);
    case QV_METRIC_EUCLID:
        return k->l2sq(q, v, c->cfg.dim);
    case QV_METRIC_MANHATTAN:
        return k->l1(q, v, c->cfg.dim);
    }
    return INFINITY;
}

float qvi_distance_to_score(qv_metric metric, float dist)
{
    switch (metric) {
    case QV_METRIC_COSINE:
    case QV_METRIC_DOT:
        return -dist;
    case QV_METRIC_EUCLID:
        return sqrtf(dist > 0.0f ? dist : 0.0f);
    case QV_METRIC_MANHATTAN:
        return dist;
    }
    return dist;
}
