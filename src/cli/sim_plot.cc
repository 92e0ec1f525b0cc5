#include "cli/sim_plot.h"

#include <cairo.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace vxpu {
namespace {

constexpr int kWidth = 900;
constexpr int kHeight = 600;
constexpr double kLeft = 70, kRight = 170, kTop = 40, kBottom = 60;  // margins around the plot area

struct Range {
  double min = 0, max = 1;
  double span() const { return max > min ? max - min : 1; }
};

// Distinct colours that stay apart in print (Tableau 10).
void SetColor(cairo_t* cr, size_t i) {
  static const double kColors[][3] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                      {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                                      {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
  const double* c = kColors[i % std::size(kColors)];
  cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

Range RangeOf(const std::vector<PlotSeries>& series, bool use_x) {
  Range r{INFINITY, -INFINITY};
  for (const PlotSeries& s : series) {
    for (double v : use_x ? s.x : s.y) {
      r.min = std::min(r.min, v);
      r.max = std::max(r.max, v);
    }
  }
  if (!std::isfinite(r.min)) return {};
  double pad = (r.max - r.min) * 0.05;
  return {std::floor(r.min - pad), std::ceil(r.max + pad)};
}

void DrawText(cairo_t* cr, double x, double y, const std::string& text, double align = 0) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  cairo_move_to(cr, x - extents.width * align, y);
  cairo_show_text(cr, text.c_str());
}

void DrawAxes(cairo_t* cr, const Range& xr, const Range& yr, const PlotLabels& labels) {
  double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, kLeft, kTop, w, h);
  cairo_stroke(cr);
  cairo_set_font_size(cr, 12);
  for (int i = 0; i <= 5; ++i) {
    double fx = i / 5.0;
    DrawText(cr, kLeft + fx * w, kTop + h + 18, fmt::format("{:.0f}", xr.min + fx * xr.span()), 0.5);
    DrawText(cr, kLeft - 8, kTop + h - fx * h + 4, fmt::format("{:.1f}", yr.min + fx * yr.span()), 1);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.12);
    cairo_move_to(cr, kLeft, kTop + h - fx * h);
    cairo_line_to(cr, kLeft + w, kTop + h - fx * h);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
  }
  cairo_set_font_size(cr, 14);
  DrawText(cr, kLeft + w / 2, kHeight - 18, labels.x_axis, 0.5);
  DrawText(cr, kLeft + w / 2, 24, labels.title, 0.5);
  cairo_save(cr);
  cairo_translate(cr, 18, kTop + h / 2);
  cairo_rotate(cr, -M_PI / 2);
  DrawText(cr, 0, 0, labels.y_axis, 0.5);
  cairo_restore(cr);
}

void DrawSeries(cairo_t* cr, const std::vector<PlotSeries>& series, const Range& xr, const Range& yr) {
  double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  cairo_set_line_width(cr, 2);
  cairo_set_font_size(cr, 13);
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    SetColor(cr, i);
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      double px = kLeft + (s.x[k] - xr.min) / xr.span() * w;
      double py = kTop + h - (s.y[k] - yr.min) / yr.span() * h;
      k == 0 ? cairo_move_to(cr, px, py) : cairo_line_to(cr, px, py);
    }
    cairo_stroke(cr);
    double ly = kTop + 10 + 22.0 * static_cast<double>(i);
    cairo_move_to(cr, kWidth - kRight + 12, ly);
    cairo_line_to(cr, kWidth - kRight + 36, ly);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    DrawText(cr, kWidth - kRight + 42, ly + 4, s.label);
  }
}

}  // namespace

std::string WriteLinePlot(const std::string& path, const std::vector<PlotSeries>& series, const PlotLabels& labels) {
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, kWidth, kHeight), cairo_surface_destroy);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  Range xr = RangeOf(series, true), yr = RangeOf(series, false);
  DrawAxes(cr.get(), xr, yr, labels);
  DrawSeries(cr.get(), series, xr, yr);
  cairo_status_t status = cairo_surface_write_to_png(surface.get(), path.c_str());
  if (status != CAIRO_STATUS_SUCCESS) return fmt::format("cannot write {}: {}", path, cairo_status_to_string(status));
  return {};
}

}  // namespace vxpu
