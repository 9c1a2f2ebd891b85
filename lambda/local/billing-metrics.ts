// The billing meter's counts as Prometheus metrics, for `cloudtable backend
// --metrics`. Labelled by function and operation only: no table names, keys
// or values, so the endpoint reveals nothing a signature would protect.

import { Counter, Registry } from 'prom-client';
import type { BillingMeter, BillingRow } from './billing.js';

const PREFIX = 'cloudtable_backend_';

export function billingRegistry(meter: BillingMeter): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, value: (r: BillingRow) => number): void => {
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['function', 'operation'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of meter.snapshot().rows) this.inc({ function: r.function, operation: r.operation }, value(r));
      },
    });
  };
  counter('invocations_total', 'Invocations of the local functions, as Lambda would bill them', (r) => r.invocations);
  counter('billed_duration_ms_total', 'Billed duration: each invocation rounded up to the next millisecond', (r) => r.billedMs);
  counter('read_units_total', 'DynamoDB read request units consumed, as the engine reports them', (r) => r.readUnits);
  counter('write_units_total', 'DynamoDB write request units consumed, as the engine reports them', (r) => r.writeUnits);
  counter('cost_dollars_total', 'What the above cost at list prices (us-east-1, arm64, on demand)', (r) => r.dollars.total);
  return registry;
}
