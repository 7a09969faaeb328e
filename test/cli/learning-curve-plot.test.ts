/**
 * The learning-curve pictures of `fedstat train --plot`: the SVG and the HTML page parse as XML,
 * every line runs left to right, values land where the axes say (the lowest tick on the plot's
 * bottom edge, the highest on its top), a null round splits a line and a lone round is a dot, the
 * title and agency names cannot inject markup, non-finite numbers are refused, and the same points
 * always give the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { learningCurveHtml, learningCurveSvg } from '../../src/cli/learning-curve-plot.js';
import type { CurvePoint } from '../../src/learn/fl/learning-curve.js';
import { findAll, parseXml, textOf } from '../helpers/xml-well-formed.js';
import type { XmlElement } from '../helpers/xml-well-formed.js';

function point(round: number, fields: Partial<CurvePoint> = {}): CurvePoint {
  return {
    round,
    step: round,
    trainLoss: 1 / round,
    validationLoss: 1.1 / round,
    metric: 0.5 + round / 100,
    metricName: 'auc',
    epsilon: 0.1 * round,
    agencies: ['cd-hrss', 'dy-hrss'],
    ...fields,
  };
}

const run = (n: number, fields: (round: number) => Partial<CurvePoint> = () => ({})): CurvePoint[] =>
  Array.from({ length: n }, (_, i) => point(i + 1, fields(i + 1)));

function svgOf(points: readonly CurvePoint[], title = 'run'): XmlElement {
  return parseXml(learningCurveSvg(points, { title, delta: 1e-6 }));
}

function series(root: XmlElement, id: string, element: 'polyline' | 'circle' = 'polyline'): XmlElement[] {
  return findAll(root, element).filter((e) => e.attributes.get('data-series') === id);
}

function pointsOf(polyline: XmlElement): [number, number][] {
  const list = polyline.attributes.get('points') ?? '';
  return list.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]);
}

const num = (e: XmlElement, name: string): number => Number(e.attributes.get(name));

/** The vertical axis line whose x is `x`: its top and bottom are the plot area's. */
function axisAt(root: XmlElement, x: number): { top: number; bottom: number } {
  const line = findAll(root, 'line').find(
    (l) => num(l, 'x1') === x && num(l, 'x2') === x && num(l, 'y2') > num(l, 'y1') + 100,
  );
  if (line === undefined) throw new Error(`no axis line at x = ${x}`);
  return { top: num(line, 'y1'), bottom: num(line, 'y2') };
}

describe('learningCurveSvg', () => {
  it('is one well-formed, self-contained 800 × 360 SVG with a title and both panels', () => {
    const root = svgOf(run(12));
    expect(root.name).toBe('svg');
    expect(root.attributes.get('xmlns')).toBe('http://www.w3.org/2000/svg');
    expect([root.attributes.get('width'), root.attributes.get('height')]).toEqual(['800', '360']);
    expect(textOf(findAll(root, 'title')[0] as XmlElement)).toBe('run');
    for (const id of ['train-loss', 'validation-loss', 'metric', 'epsilon']) expect(series(root, id)).toHaveLength(1);
    expect(series(root, 'epsilon')[0]?.attributes.get('stroke-dasharray')).toBe('6 4');
    const labels = findAll(root, 'text').map(textOf);
    expect(labels).toEqual(expect.arrayContaining(['loss', 'AUC', 'round', 'ε spent (δ = 1e-6)', 'validation AUC']));
    const markup = learningCurveSvg(run(12), { title: 'run' });
    expect(markup).not.toMatch(/<script|href=|@import|url\(/);
  });

  it('draws every line with x strictly increasing, from the first round to the last', () => {
    const root = svgOf(run(40, (r) => ({ trainLoss: Math.sin(r) + 2 })));
    for (const line of findAll(root, 'polyline')) {
      const xs = pointsOf(line).map(([x]) => x);
      for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeGreaterThan(xs[i - 1] as number);
    }
    const train = pointsOf(series(root, 'train-loss')[0] as XmlElement);
    expect(train).toHaveLength(40);
    const metric = pointsOf(series(root, 'metric')[0] as XmlElement);
    expect(metric[0]?.[0]).toBeGreaterThan(train[39]?.[0] as number); // the metric panel is right of the loss panel
  });

  it('maps the lowest value to the bottom of the plot and the highest to its top, linearly', () => {
    const root = svgOf(run(3, (r) => ({ trainLoss: (r - 1) / 2, validationLoss: null })));
    const line = pointsOf(series(root, 'train-loss')[0] as XmlElement);
    const [[x0, y0], [x1, y1], [x2, y2]] = line as [[number, number], [number, number], [number, number]];
    const { top, bottom } = axisAt(root, x0);
    expect([y0, y2]).toEqual([bottom, top]);
    expect(y1).toBeCloseTo((top + bottom) / 2, 1);
    expect(x1).toBeCloseTo((x0 + x2) / 2, 1);
    const ticks = findAll(root, 'text').filter((t) => num(t, 'x') < x0 && t.attributes.get('text-anchor') === 'end');
    expect(ticks.map(textOf)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
  });

  it('puts ε on its own right-hand axis: its extremes on the plot edges too', () => {
    const root = svgOf(run(5, (r) => ({ epsilon: r * 0.5 - 0.5 }))); // 0 … 2
    const eps = pointsOf(series(root, 'epsilon')[0] as XmlElement);
    const right = eps[4]?.[0] as number;
    const { top, bottom } = axisAt(root, right);
    expect([eps[0]?.[1], eps[4]?.[1]]).toEqual([bottom, top]);
    const labels = findAll(root, 'text').filter(
      (t) => num(t, 'x') > right && t.attributes.get('text-anchor') === 'start',
    );
    expect(labels.map(textOf)).toEqual(['0.0', '0.5', '1.0', '1.5', '2.0']);
  });

  it('leaves a gap at a null round, and draws a round alone between gaps as a dot', () => {
    const root = svgOf(run(7, (r) => ({ trainLoss: r === 3 || r === 5 ? null : r })));
    const lines = series(root, 'train-loss').map(pointsOf);
    expect(lines.map((l) => l.length)).toEqual([2, 2]); // rounds 1–2 and 6–7
    const dots = series(root, 'train-loss', 'circle');
    expect(dots).toHaveLength(1); // round 4
    const x = num(dots[0] as XmlElement, 'cx');
    expect(x).toBeGreaterThan(lines[0]?.[1]?.[0] as number);
    expect(x).toBeLessThan(lines[1]?.[0]?.[0] as number);
  });

  it('draws a one-round run as dots over a single round tick', () => {
    const root = svgOf([point(1)]);
    expect(findAll(root, 'polyline')).toHaveLength(0);
    expect(findAll(root, 'circle').map((c) => c.attributes.get('data-series'))).toEqual([
      'train-loss',
      'validation-loss',
      'metric',
      'epsilon',
    ]);
    const roundTicks = findAll(root, 'text').filter(
      (t) => t.attributes.get('text-anchor') === 'middle' && num(t, 'y') === 302,
    );
    expect(roundTicks.map(textOf)).toEqual(['1', '1']);
  });

  it('draws a constant series level inside the plot, zero included', () => {
    for (const value of [0.5, 0, -3]) {
      const root = svgOf(run(4, () => ({ trainLoss: value, validationLoss: value })));
      const ys = pointsOf(series(root, 'train-loss')[0] as XmlElement).map(([, y]) => y);
      const { top, bottom } = axisAt(root, pointsOf(series(root, 'train-loss')[0] as XmlElement)[0]?.[0] as number);
      expect(new Set(ys).size).toBe(1);
      expect(ys[0]).toBeGreaterThan(top);
      expect(ys[0]).toBeLessThan(bottom);
      expect(ys.every(Number.isFinite)).toBe(true);
    }
  });

  it('says so when there is no validation split and no DP, and labels RMSE for regression', () => {
    const bare = svgOf(run(3, () => ({ validationLoss: null, metric: null, epsilon: null })));
    expect(findAll(bare, 'text').map(textOf)).toContain('no validation split');
    expect(series(bare, 'metric')).toHaveLength(0);
    expect(series(bare, 'epsilon')).toHaveLength(0);
    const rmse = svgOf(run(3, () => ({ metricName: 'rmse', metric: 2 })));
    expect(findAll(rmse, 'text').map(textOf)).toEqual(expect.arrayContaining(['RMSE', 'validation RMSE']));
  });

  it('escapes the title: markup characters, control characters and lone surrogates', () => {
    const title = `a<b & "c" 'd'> </svg><script>x</script>\u0001\ud800 劳动`;
    const markup = learningCurveSvg([point(1)], { title });
    const root = parseXml(markup);
    expect(findAll(root, 'script')).toHaveLength(0);
    expect(textOf(findAll(root, 'title')[0] as XmlElement)).toBe(
      `a<b & "c" 'd'> </svg><script>x</script>\ufffd\ufffd 劳动`,
    );
    expect(markup).toContain('a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
  });

  it('refuses NaN and infinities in every number, with RangeError', () => {
    for (const field of ['trainLoss', 'validationLoss', 'metric', 'epsilon', 'step', 'round'] as const)
      for (const bad of [Number.NaN, Infinity, -Infinity])
        expect(() => learningCurveSvg([point(1), point(2, { [field]: bad })], { title: 't' }), field).toThrow(
          RangeError,
        );
    expect(() => learningCurveSvg([point(1)], { title: 't', delta: Number.NaN })).toThrow(RangeError);
  });

  it('refuses what cannot be drawn honestly: no rounds, rounds out of order, mixed metrics, δ outside (0, 1)', () => {
    expect(() => learningCurveSvg([], { title: 't' })).toThrow(/no rounds/);
    expect(() => learningCurveSvg([point(2), point(1)], { title: 't' })).toThrow(/round order/);
    expect(() => learningCurveSvg([point(1), point(1)], { title: 't' })).toThrow(RangeError);
    expect(() => learningCurveSvg([point(0)], { title: 't' })).toThrow(/≥ 1/);
    expect(() => learningCurveSvg([point(1.5)], { title: 't' })).toThrow(/whole number/);
    expect(() => learningCurveSvg([point(1), point(2, { metricName: 'rmse' })], { title: 't' })).toThrow(/metricName/);
    for (const delta of [0, 1, -1e-6])
      expect(() => learningCurveSvg([point(1)], { title: 't', delta })).toThrow(RangeError);
  });

  it('gives the same bytes for the same points', () => {
    const points = run(5, (r) => ({ validationLoss: r === 2 ? null : 0.8 / r }));
    const a = learningCurveSvg(points, { title: 'x', delta: 1e-5 });
    expect(learningCurveSvg(structuredClone(points), { title: 'x', delta: 1e-5 })).toBe(a);
    const lines = a.split('\n').filter((l) => l.includes('data-series'));
    expect(lines.join('\n')).toMatchInlineSnapshot(`
      "  <polyline data-series="train-loss" fill="none" stroke="#0072B2" stroke-width="2" points="64,74 139,180 214,215.33 289,233 364,243.6"/>
        <circle data-series="validation-loss" cx="64" cy="116.4" r="3" fill="#D55E00"/>
        <polyline data-series="validation-loss" fill="none" stroke="#D55E00" stroke-width="2" points="214,229.47 289,243.6 364,252.08"/>
        <polyline data-series="metric" fill="none" stroke="#009E73" stroke-width="2" points="464,286 529.5,233 595,180 660.5,127 726,74"/>
        <polyline data-series="epsilon" fill="none" stroke="#CC79A7" stroke-width="2" stroke-dasharray="6 4" points="464,286 529.5,233 595,180 660.5,127 726,74"/>"
    `);
  });
});

describe('learningCurveHtml', () => {
  it('embeds the SVG above a table with one row per round, escaped agency names and dashes for nulls', () => {
    const points = run(3, (r) => ({
      agencies: r === 2 ? ['cd-hrss', '<b>evil</b> & co'] : ['cd-hrss'],
      metric: r === 1 ? null : 0.7,
    }));
    const html = learningCurveHtml(points, { title: 'FedAvg <run>', delta: 1e-6 });
    expect(html.startsWith('<!DOCTYPE html>\n')).toBe(true);
    const root = parseXml(html);
    expect(root.name).toBe('html');
    expect(findAll(root, 'svg')).toHaveLength(1);
    expect(findAll(root, 'b')).toHaveLength(0);
    expect(textOf(findAll(root, 'h1')[0] as XmlElement)).toBe('FedAvg <run>');
    expect(findAll(root, 'th').map(textOf)).toEqual([
      'round',
      'step',
      'agencies',
      'train loss',
      'validation loss',
      'validation AUC',
      'ε spent (δ = 1e-6)',
    ]);
    const rows = findAll(findAll(root, 'tbody')[0] as XmlElement, 'tr').map((tr) => findAll(tr, 'td').map(textOf));
    expect(rows).toEqual([
      ['1', '1', 'cd-hrss', '1', '1.1', '—', '0.1'],
      ['2', '2', 'cd-hrss, <b>evil</b> & co', '0.5', '0.55', '0.7', '0.2'],
      ['3', '3', 'cd-hrss', '0.3333', '0.3667', '0.7', '0.3'],
    ]);
  });

  it('refuses the same inputs as the SVG', () => {
    expect(() => learningCurveHtml([point(1, { trainLoss: Number.NaN })], { title: 't' })).toThrow(RangeError);
  });
});
