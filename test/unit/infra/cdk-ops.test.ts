// Unit tests — the CDK pieces of interactive VM operations: one worker per lane with reserved concurrency as
// the hard cap above its event source's maxConcurrency, the ops settings from the typed environment config on
// the functions, the lane-wait and waiting alarms, and the refusal of invalid settings at synth.
import { beforeAll, describe, expect, it } from 'vitest';
import { environments, validateConfig } from '../../../infra/config.ts';
import { eventSources, functions } from '../../../infra/topology.ts';
import { onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

describe('CDK app: interactive VM operations', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 120_000);

  const fn = (name: keyof typeof functions) =>
    onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: `vfleet prod: ${functions[name].description}`,
    });

  it('runs one worker per lane, its reserved concurrency at least its event source maxConcurrency', () => {
    for (const [name, queue] of [
      ['opsWorkerCritical', 'ops-critical'],
      ['opsWorkerHigh', 'ops-high'],
      ['opsWorkerNormal', 'ops-normal'],
      ['opsWorkerLow', 'ops-low'],
    ] as const) {
      const worker = fn(name);
      const source = eventSources.find((e) => e.queue === queue);
      expect(source?.function).toBe(name);
      expect(worker.resource.Properties.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(
        source!.maxConcurrency,
      );
      s.stateless.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: worker.logicalId },
        BatchSize: source!.batchSize,
        ScalingConfig: { MaximumConcurrency: source!.maxConcurrency },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('sets the large preset on the ops functions and the blob bucket for the last-known-good tier', () => {
    for (const name of ['opsApi', 'opsConsole', 'opsWorkerLow'] as const) {
      const vars = (fn(name).resource.Properties.Environment as { Variables: Record<string, string> })
        .Variables;
      expect(vars).toMatchObject({
        ESXI_MAX_CONCURRENT: '16',
        ESXI_MIN_INTERVAL: '0.05',
        VM_LIST_CACHE_TTL: '60',
        THUMBNAIL_CACHE_TTL: '300',
      });
      if (name !== 'opsConsole') expect(vars.BLOB_BUCKET).toBeDefined();
    }
  });

  it('alarms on average lane wait > 1 s, CRITICAL wait > 0.5 s and more than 50 jobs waiting', () => {
    const alarms = Object.values(s.stateless.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: Record<string, unknown> & { Dimensions?: { Name: string; Value: string }[] };
    }[];
    const waits = alarms.filter((a) => a.Properties.MetricName === 'LaneWaitMs');
    const lane = (a: (typeof waits)[number]) =>
      a.Properties.Dimensions?.find((d) => d.Name === 'Lane')?.Value;
    expect(
      waits
        .filter((a) => a.Properties.Threshold === 1000)
        .map(lane)
        .sort(),
    ).toEqual(['CRITICAL', 'HIGH', 'LOW', 'NORMAL']);
    expect(waits.filter((a) => a.Properties.Threshold === 500).map(lane)).toEqual(['CRITICAL']);
    for (const a of waits) expect(a.Properties).toMatchObject({ Namespace: 'vfleet', Statistic: 'Average' });
    const waiting = alarms.filter((a) => a.Properties.Threshold === 50);
    expect(waiting).toHaveLength(1);
    expect(JSON.stringify(waiting[0]!.Properties.Metrics)).toContain('ApproximateNumberOfMessagesVisible');
    for (const a of [...waits, ...waiting]) expect(a.Properties.AlarmActions).toHaveLength(1);
  });

  it('refuses an invalid ops setting at synth, naming it', () => {
    expect(() =>
      validateConfig({ ...environments.dev, ops: { ...environments.dev.ops, maxConcurrent: 2 } }),
    ).toThrow(/ops\.maxConcurrent \(ESXI_MAX_CONCURRENT\) must be an integer between 3 and 1000/);
    expect(environments.dev.ops.maxConcurrent).toBe(8);
    expect(environments.staging.ops.maxConcurrent).toBe(12);
  });
});
