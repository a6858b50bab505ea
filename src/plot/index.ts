/**
 * Pictures of training, drawn with Vega-Lite (vega + vega-lite, rendered in Node to SVG; PNG through
 * the optional @resvg/resvg-js): plotHistory for learning curves, render for any Vega-Lite chart.
 */
export { plotHistory, historySpec } from './history';
export type { HistoryLike, HistoryPoint, PlotHistoryOptions } from './history';
export { render, toSVG, svgToPNG, FONT_STACK } from './render';
export type { VegaLiteSpec, PlotFormat, RenderOptions } from './render';
