/**
 * Which models serve a request: the plan's chain for the action (api/config/models.ts), as routed models,
 * with the circuit breakers that leave a failing model out for a while (./breaker.ts). Its breakers show in
 * /metrics (`redraft_model_breaker_open`, `redraft_model_breaker_opened_total`).
 */
import type { Action } from '../../shared/contract';
import { chainFor, routedRefs, sizeFor, type AttemptSize, type ModelRoutes } from '../config/models';
import type { PlanId } from '../config/plans';
import type { Metrics } from '../observe/metrics';
import { createBreakers, type Breakers, type BreakerOptions } from './breaker';
import type { ModelRegistry, RoutedModel } from './provider';

export interface ModelRouter {
  /** The models `plan` runs for `action`, in order. */
  chain(plan: PlanId, action: Action): RoutedModel[];
  /** The size of the first attempt `plan` would make now (its first model whose breaker is not open). */
  firstSize(plan: PlanId, action: Action, o200kInputTokens: number, actionOutputCap: number): AttemptSize;
  breakers: Breakers;
}

export function createModelRouter(
  routes: ModelRoutes,
  registry: ModelRegistry,
  o: BreakerOptions & { metrics?: Pick<Metrics, 'gauge'> },
): ModelRouter {
  // Every routed model is created at start-up: a ref whose provider is missing fails here, not on a request.
  for (const ref of routedRefs(routes)) registry(ref);
  const breakers = createBreakers(o);
  const chain = (plan: PlanId, action: Action) => chainFor(routes, plan, action).map(registry);
  o.metrics?.gauge(
    'redraft_model_breaker_open',
    'Whether a model is left out of its chains by its circuit breaker (1 open, 0.5 half-open: one trial at a time, 0 closed).',
    () =>
      routedRefs(routes).map((ref) => {
        const state = breakers.state(ref);
        return { labels: { model: ref }, value: state === 'open' ? 1 : state === 'half-open' ? 0.5 : 0 };
      }),
  );
  o.metrics?.gauge(
    'redraft_model_breaker_opened_total',
    'How often each model’s circuit breaker opened.',
    () => {
      const opened = new Map(breakers.snapshot().map((e) => [e.ref, e.opened]));
      return routedRefs(routes).map((ref) => ({ labels: { model: ref }, value: opened.get(ref) ?? 0 }));
    },
    'counter',
  );
  return {
    chain,
    firstSize(plan, action, inputTokens, outputCap) {
      const models = chain(plan, action);
      const first = models.find((m) => breakers.state(m.ref) !== 'open') ?? models[0]!;
      return sizeFor(first.modelId, inputTokens, outputCap);
    },
    breakers,
  };
}
