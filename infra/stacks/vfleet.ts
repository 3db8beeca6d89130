// Infra composition: one environment's stack set (stateful, then stateless), shared by infra/app.ts and
// the CDK assertion tests so both build exactly the same thing.

import { type App, Tags } from 'aws-cdk-lib';
import type { EnvironmentConfig } from '../config.ts';
import type { Topology } from '../topology.ts';
import { StatefulStack } from './stateful-stack.ts';
import { StatelessStack } from './stateless-stack.ts';

export interface VfleetStacks {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/**
 * Adds `vfleet-<env>-stateful` and `vfleet-<env>-stateless` to `app`.
 * @param topology @default the project topology
 */
export function buildVfleet(app: App, config: EnvironmentConfig, topology?: Topology): VfleetStacks {
  const env = { account: config.account, region: config.region };
  const prefix = `vfleet-${config.envName}`;
  const stateful = new StatefulStack(app, `${prefix}-stateful`, {
    env,
    config,
    topology,
    description: `vfleet ${config.envName}: network and data stores`,
    terminationProtection: config.removalPolicy === 'retain',
  });
  const stateless = new StatelessStack(app, `${prefix}-stateless`, {
    env,
    config,
    topology,
    stateful,
    description: `vfleet ${config.envName}: functions, APIs, event sources, schedules, alarms`,
  });
  for (const stack of [stateful, stateless]) {
    Tags.of(stack).add('project', 'vfleet');
    Tags.of(stack).add('environment', config.envName);
  }
  return { stateful, stateless };
}
