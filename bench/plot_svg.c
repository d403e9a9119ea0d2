/*
 * plot_svg.c -- the recall/QPS chart of `quiver bench` as a standalone SVG.
 *
 * The chart ann-benchmarks made the habit of: recall@k on x, queries per
 * second on a log-scale y, one polyline per engine through its ef sweep,
 * up and to the right is better.  It is written by hand, with no plotting
 * library, so a benchmark run needs nothing but the C library to produce a
 * picture a browser or `rsvg-convert` shows.
 *
 * Layout: a fixed 860 x 540 canvas, the plot on the left and the legend on
 * the right; x spans [floor(min recall to 0.1), 1]; y spans whole decades
 * around the measured QPS, with labelled gridlines at each decade and
 * faint ones at 2..9 times it.  A dashed vertical line marks the target
 * recall, where the report reads QPS off each curve.  Each marker carries a
 * <title> (engine, ef, recall, QPS), shown as a tooltip by browsers.
 */
#include "harness.h"

#include <math.h>
#include <string.h>

enum { W = 860, H = 540, ML = 80, MR = 190, MT = 56, MB = 62 };

static const char *const palette[] = {"#d62728", "#1f77b4", "#2ca02c",
                                      "#ff7f0e", "#9467bd", "#8c564b"};

/* A fixed colour for the known engines, so charts of two runs compare. */
static const char *engine_colour(const char *engine, size_t index)
{
    if (!strcmp(engine, "quiver"))
        return palette[0];
    if (!strcmp(engine, "hnswlib"))
        return palette[1];
    if (!strcmp(engine, "faiss"))
        return palette[2];
    return palette[3 + index % 3];
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Where the data go: the axes' ranges and the plot area in pixels. */
typedef struct frame {
    double x0, x1;   /* recall range */
    double ly0, ly1; /* log10 QPS range */
    double left, right, top, bottom;
} frame;

static double px(const frame *fr, double recall)
{
    return ML + (recall - fr->x0) / (fr->x1 - fr->x0) * (W - ML - MR);
}

static double py(const frame *fr, double qps)
{
    return H - MB -
           (log10(qps) - fr->ly0) / (fr->ly1 - fr->ly0) * (H - MT - MB);
}

static int usable(const qvb_row *r)
{
    return isfinite(r->recall) && isfinite(r->qps) && r->qps > 0;
}

/* The ranges: x from the lowest recall measured, floored to a tenth (at
 * most 0.9, so the axis always spans a tenth), to 1; y over the whole
 * decades around the measured QPS, one decade when nothing was measured. */
static frame frame_of(const qvb_row *rows, size_t n_rows)
{
    frame fr = {1, 1, 0, 0, ML, W - MR, MT, H - MB};
    double qmin = INFINITY, qmax = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (!usable(&rows[i]))
            continue;
        fr.x0 = fmin(fr.x0, rows[i].recall);
        qmin = fmin(qmin, rows[i].qps);
        qmax = fmax(qmax, rows[i].qps);
    }
    fr.x0 = floor(fr.x0 * 10 - 1e-9) / 10;
    if (fr.x0 > 0.9)
        fr.x0 = 0.9;
    if (fr.x0 < 0)
        fr.x0 = 0;
    if (qmax <= 0) { /* nothing measured: an empty frame */
        qmin = 1;
        qmax = 10;
    }
    fr.ly0 = floor(log10(qmin));
    fr.ly1 = ceil(log10(qmax));
    if (fr.ly1 <= fr.ly0)
        fr.ly1 = fr.ly0 + 1;
    return fr;
}

/* The document's opening, the white background and the two title lines. */
static void write_head(FILE *f, const qvb_run_info *info)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(f,
            "<text x=\"%d\" y=\"24\" font-size=\"16\" "
            "font-weight=\"bold\">Recall / QPS: ",
            ML);
    xml_text(f, info->dataset);
    fprintf(f,
            "</text>\n<text x=\"%d\" y=\"42\" font-size=\"12\" "
            "fill=\"#444\">",
            ML);
    fprintf(f,
            "n=%zu, dim=%u, %s, M=%u, ef_construct=%u, %zu queries, one "
            "thread, median of %u passes</text>\n",
            info->n, info->dim, qvb_metric_name(info->metric), info->m,
            info->ef_construct, info->nq, info->reps);
}

/* Horizontal gridlines: each decade of QPS labelled, 2..9 times it faint. */
static void write_y_grid(FILE *f, const frame *fr)
{
    for (double d = fr->ly0; d <= fr->ly1 + 1e-9; d++) {
        double base = pow(10, d);
        for (int m = 1; m <= 9; m++) {
            double q = base * m;
            if (log10(q) > fr->ly1 + 1e-9)
                break;
            double y = py(fr, q);
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"%s\"/>\n",
                    fr->left, y, fr->right, y, m == 1 ? "#bbb" : "#eee");
            if (m == 1)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                        "text-anchor=\"end\" stroke=\"none\">%.0f</text>\n",
                        fr->left - 6, y + 4, q);
        }
    }
}

/* Vertical gridlines with recall labels, every 0.1 (0.05 on a narrow
 * axis). */
static void write_x_grid(FILE *f, const frame *fr)
{
    double step = fr->x1 - fr->x0 > 0.31 ? 0.1 : 0.05;
    for (double x = fr->x0; x <= fr->x1 + 1e-9; x += step) {
        double X = px(fr, x);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "text-anchor=\"middle\" stroke=\"none\">%.2f</text>\n",
                X, fr->top, X, fr->bottom, X, fr->bottom + 18, x);
    }
}

/* The plot's frame and the axis titles. */
static void write_axes(FILE *f, const frame *fr, const qvb_run_info *info)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#333\"/>\n",
            fr->left, fr->top, fr->right - fr->left, fr->bottom - fr->top);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"13\" "
            "text-anchor=\"middle\">recall@%u</text>\n",
            (fr->left + fr->right) / 2, H - 18, info->k);
    fprintf(f,
            "<text transform=\"translate(20,%.1f) rotate(-90)\" "
            "font-size=\"13\" text-anchor=\"middle\">queries per second "
            "(log scale)</text>\n",
            (fr->top + fr->bottom) / 2);
}

/* The dashed line at the target recall, when it falls inside the axis. */
static void write_target(FILE *f, const frame *fr, double target)
{
    if (!(target > fr->x0 && target < fr->x1))
        return;
    double X = px(fr, target);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#777\" stroke-dasharray=\"5,4\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\" "
            "text-anchor=\"end\">recall %.2f</text>\n",
            X, fr->top, X, fr->bottom, X - 4, fr->top + 14, target);
}

/* True when row r is a point of engine's curve. */
static int on_curve(const qvb_row *r, const char *engine)
{
    return !strcmp(r->engine, engine) && usable(r);
}

/* The engine's curve through its ef sweep, in the order measured. */
static void write_curve(FILE *f, const frame *fr, const qvb_row *rows,
                        size_t n_rows, const char *engine, const char *colour)
{
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "points=\"",
            colour);
    for (size_t i = 0; i < n_rows; i++) {
        const qvb_row *r = &rows[i];
        if (on_curve(r, engine))
            fprintf(f, "%.1f,%.1f ", px(fr, r->recall), py(fr, r->qps));
    }
    fputs("\"/>\n", f);
}

/* A marker per point, with a tooltip and its ef as a label. */
static void write_markers(FILE *f, const frame *fr, const qvb_row *rows,
                          size_t n_rows, const char *engine, const char *colour)
{
    for (size_t i = 0; i < n_rows; i++) {
        const qvb_row *r = &rows[i];
        if (!on_curve(r, engine))
            continue;
        double X = px(fr, r->recall), Y = py(fr, r->qps);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">"
                "<title>",
                X, Y, colour);
        xml_text(f, r->engine);
        fprintf(f,
                " ef=%u: recall %.4f, %.0f QPS</title></circle>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"%s\">%u</text>\n",
                r->ef, r->recall, r->qps, X + 5, Y - 6, colour, r->ef);
    }
}

/* Line `shown` of the legend, right of the plot. */
static void write_legend_entry(FILE *f, const frame *fr, size_t shown,
                               const char *engine, const char *colour)
{
    double ly = fr->top + 16 + 22.0 * (double)shown;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"3\"/>\n"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">",
            fr->right + 16, ly, fr->right + 44, ly, colour, fr->right + 30, ly,
            colour, fr->right + 52, ly + 4);
    xml_text(f, engine);
    fputs("</text>\n", f);
}

/* One curve, its markers and a legend line per engine with usable rows;
 * returns how many were drawn. */
static size_t write_engines(FILE *f, const frame *fr, const qvb_row *rows,
                            size_t n_rows, const qvb_engine_result *eng,
                            size_t n_eng)
{
    size_t shown = 0;
    for (size_t e = 0; e < n_eng; e++) {
        const char *name = eng[e].engine;
        const char *colour = engine_colour(name, e);
        size_t cnt = 0;
        for (size_t i = 0; i < n_rows; i++)
            cnt += on_curve(&rows[i], name);
        if (cnt == 0)
            continue;
        write_curve(f, fr, rows, n_rows, name, colour);
        write_markers(f, fr, rows, n_rows, name, colour);
        write_legend_entry(f, fr, shown, name, colour);
        shown++;
    }
    return shown;
}

int qvb_write_svg(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                  size_t n_rows, const qvb_engine_result *eng, size_t n_eng)
{
    frame fr = frame_of(rows, n_rows);
    write_head(f, info);
    fputs("<g stroke-width=\"1\">\n", f);
    write_y_grid(f, &fr);
    write_x_grid(f, &fr);
    fputs("</g>\n", f);
    write_axes(f, &fr, info);
    write_target(f, &fr, info->target_recall);
    size_t shown = write_engines(f, &fr, rows, n_rows, eng, n_eng);
    if (shown) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"#555\">labels: ef</text>\n",
                fr.right + 16, fr.top + 16 + 22.0 * (double)shown);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
