/**
 * A small Prometheus registry: counters, histograms and gauges (read when rendered) with labels, rendered in the text exposition
 * format for GET /metrics. Pure and in-memory (per instance: Prometheus sums across instances).
 */
type Labels = Record<string, string>;

interface Family {
  type: 'counter' | 'histogram' | 'gauge';
  help: string;
  buckets?: number[];
  /** Gauges: their series, read at each render. */
  collect?: () => { labels: Labels; value: number }[];
  series: Map<string, { labels: Labels; value: number; counts?: number[]; sum?: number }>;
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
/** Labels in name order (one series, one spelling); a histogram's `le` goes last. */
const labelText = (labels: Labels, le?: string) => {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (le !== undefined) entries.push(['le', le]);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
};
const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

export class Metrics {
  private families = new Map<string, Family>();

  counter(name: string, help: string): void {
    if (!this.families.has(name)) this.families.set(name, { type: 'counter', help, series: new Map() });
  }

  histogram(name: string, help: string, buckets = DEFAULT_BUCKETS): void {
    if (!this.families.has(name))
      this.families.set(name, {
        type: 'histogram',
        help,
        buckets: [...buckets].sort((a, b) => a - b),
        series: new Map(),
      });
  }

  /** A gauge whose series `collect` reads when /metrics is rendered (e.g. a circuit breaker's state). */
  gauge(
    name: string,
    help: string,
    collect: () => { labels: Labels; value: number }[],
    type: 'gauge' | 'counter' = 'gauge',
  ): void {
    this.families.set(name, { type, help, collect, series: new Map() });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.family(name, 'counter');
    const k = keyOf(labels);
    const s = f.series.get(k) ?? { labels, value: 0 };
    s.value += by;
    f.series.set(k, s);
  }

  observe(name: string, labels: Labels, value: number): void {
    const f = this.family(name, 'histogram');
    const k = keyOf(labels);
    const s = f.series.get(k) ?? { labels, value: 0, counts: f.buckets!.map(() => 0), sum: 0 };
    s.value += 1;
    s.sum! += value;
    f.buckets!.forEach((b, i) => {
      if (value <= b) s.counts![i]! += 1;
    });
    f.series.set(k, s);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      if (f.collect) for (const g of f.collect()) out.push(`${name}${labelText(g.labels)} ${g.value}`);
      for (const s of f.series.values()) {
        if (f.type === 'counter') {
          out.push(`${name}${labelText(s.labels)} ${s.value}`);
          continue;
        }
        for (const [i, b] of f.buckets!.entries())
          out.push(`${name}_bucket${labelText(s.labels, String(b))} ${s.counts![i]}`);
        out.push(
          `${name}_bucket${labelText(s.labels, '+Inf')} ${s.value}`,
          `${name}_sum${labelText(s.labels)} ${s.sum}`,
          `${name}_count${labelText(s.labels)} ${s.value}`,
        );
      }
    }
    return `${out.join('\n')}\n`;
  }

  private family(name: string, type: Family['type']): Family {
    const f = this.families.get(name);
    if (!f || f.type !== type) throw new Error(`metric ${name} is not a registered ${type}`);
    return f;
  }
}

/** The API's metrics, registered once. */
export function createApiMetrics(): Metrics {
  const m = new Metrics();
  m.counter('redraft_http_requests_total', 'HTTP requests by route, status and error code.');
  m.histogram('redraft_http_request_duration_seconds', 'Time to the response headers, by route.');
  m.counter('redraft_rewrites_total', 'Rewrites by action and outcome (completed, aborted, error) once settled.');
  m.counter('redraft_tokens_billed_total', 'Tokens charged to users, by action.');
  m.counter('redraft_provider_cost_usd_total', 'Provider cost in USD of settled rewrites, by model.');
  m.counter(
    'redraft_model_attempts_total',
    'Model calls by model (provider/model) and outcome: served (first token came), failed (before it), skipped (circuit open or no quota for its size).',
  );
  m.counter(
    'redraft_model_fallbacks_total',
    'Rewrites served by a model after the first of their chain, by serving model.',
  );
  m.counter(
    'redraft_model_unavailable_total',
    'Rewrites refused with 503 because every model of their chain failed or was open.',
  );
  m.counter(
    'redraft_usage_anomalies_total',
    'Provider usage details not trusted as reported (a cached count above the input, reasoning above the output, not a count), by kind.',
  );
  m.counter(
    'redraft_price_refresh_failures_total',
    'Reads of the published model price lists that failed (the last good lists stayed in use).',
  );
  m.histogram(
    'redraft_rewrite_duration_seconds',
    'Whole rewrite streams, from the request to settlement.',
    [0.25, 0.5, 1, 2, 5, 10, 20, 60, 180],
  );
  m.counter(
    'redraft_settle_failures_total',
    'Settlements that failed after retries (usage left to the abandoned-reservation sweep).',
  );
  m.counter(
    'redraft_usage_report_batches_total',
    'Usage report runs in this process: batches committed; of them billed as invoice items (their invoice was final), confirmed from Stripe’s own record, rejected as duplicates; set aside as late; users failed; batches waiting for an invoice to finalize.',
  );
  m.counter(
    'redraft_meter_errors_total',
    'Meter events Stripe accepted, then refused in its asynchronous validation (v1.billing.meter.* events), by error code.',
  );
  m.counter(
    'redraft_meter_error_batches_total',
    'Asynchronous meter errors tied to one of our batches (tied) or not (untied: no sample, or an identifier not ours).',
  );
  return m;
}
