import { describe, expect, it } from 'vitest';
import { Metrics } from '../../api/observe/metrics';

describe('Metrics (Prometheus text format)', () => {
  it('renders counters with labels, summing per label set', () => {
    const m = new Metrics();
    m.counter('jobs_total', 'Jobs.');
    m.inc('jobs_total', { kind: 'a' });
    m.inc('jobs_total', { kind: 'a' }, 2);
    m.inc('jobs_total', { kind: 'b"q\\' });
    expect(m.render()).toBe(
      [
        '# HELP jobs_total Jobs.',
        '# TYPE jobs_total counter',
        'jobs_total{kind="a"} 3',
        'jobs_total{kind="b\\"q\\\\"} 1',
        '',
      ].join('\n'),
    );
  });

  it('renders cumulative histogram buckets, sum and count', () => {
    const m = new Metrics();
    m.histogram('latency_seconds', 'Latency.', [0.1, 1]);
    for (const v of [0.05, 0.5, 0.5, 3]) m.observe('latency_seconds', { route: '/x' }, v);
    const text = m.render();
    expect(text).toContain('latency_seconds_bucket{route="/x",le="0.1"} 1');
    expect(text).toContain('latency_seconds_bucket{route="/x",le="1"} 3');
    expect(text).toContain('latency_seconds_bucket{route="/x",le="+Inf"} 4');
    expect(text).toContain('latency_seconds_sum{route="/x"} 4.05');
    expect(text).toContain('latency_seconds_count{route="/x"} 4');
  });

  it('label order does not split a series', () => {
    const m = new Metrics();
    m.counter('c', 'C.');
    m.inc('c', { a: '1', b: '2' });
    m.inc('c', { b: '2', a: '1' });
    expect(m.render()).toContain('c{a="1",b="2"} 2');
  });

  it('refuses a metric that was never registered (a typo would otherwise vanish)', () => {
    const m = new Metrics();
    expect(() => m.inc('nope')).toThrow(/not a registered counter/);
    m.counter('c', 'C.');
    expect(() => m.observe('c', {}, 1)).toThrow(/not a registered histogram/);
  });
});
