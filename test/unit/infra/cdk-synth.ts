// Test helper — synthesizes one environment's CDK app in-process (the same stacks infra/app.ts builds,
// with cdk.json's feature flags), once per test file, and runs cdk-nag over it.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnResource, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { type EnvironmentConfig, type EnvName, loadConfig } from '../../../infra/config.ts';
import { buildVfleet, type VfleetStacks } from '../../../infra/stacks/vfleet.ts';
import type { Topology } from '../../../infra/topology.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cdkContext = (JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as { context: object })
  .context;

export interface Synthesized {
  readonly config: EnvironmentConfig;
  readonly stacks: VfleetStacks;
  readonly stateful: Template;
  readonly stateless: Template;
  /** cdk-nag AwsSolutions findings left after acknowledgements (errors and warnings). */
  readonly nagViolations: readonly { ruleName: string; severity?: string; paths: string[] }[];
  /** Every acknowledgement recorded in the tree: rule id and its reason. */
  readonly acknowledgements: readonly { id: string; reason: string; path: string }[];
}

export interface SynthOptions {
  readonly topology?: Topology;
  /** Run esbuild for the functions, as `cdk synth` does. @default true */
  readonly bundle?: boolean;
  /** Changes the environment's configuration first (a variant no environment uses, such as another Redis). */
  readonly configure?: (config: EnvironmentConfig) => EnvironmentConfig;
}

/** Builds and synthesizes the environment's stacks; throws if synthesis fails. */
export function synthesize(envName: EnvName, options: SynthOptions = {}): Synthesized {
  const app = new App({
    context: {
      ...cdkContext,
      // An empty list tells NodejsFunction to skip esbuild for every stack.
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  const loaded = loadConfig(envName);
  const config = options.configure ? options.configure(loaded) : loaded;
  const stacks = buildVfleet(app, config, options.topology);
  const stateful = Template.fromStack(stacks.stateful);
  const stateless = Template.fromStack(stacks.stateless);
  const report = new AwsSolutionsChecks().validateScope(app);
  return {
    config,
    stacks,
    stateful,
    stateless,
    nagViolations: report.violations.map((v) => ({
      ruleName: v.ruleName,
      severity: v.severity,
      paths: v.violatingResources.map((r) => r.constructPath ?? '?'),
    })),
    acknowledgements: collectAcknowledgements(app),
  };
}

function collectAcknowledgements(scope: IConstruct): { id: string; reason: string; path: string }[] {
  const found: { id: string; reason: string; path: string }[] = [];
  for (const node of scope.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ id, reason, path: node.node.path });
      }
    }
  }
  return found;
}

/** The single resource of `type` matching `props`; fails the test when there are none or several. */
export function onlyResource(
  template: Template,
  type: string,
  props: Record<string, unknown>,
): { logicalId: string; resource: { Properties: Record<string, unknown> } } {
  const found = Object.entries(template.findResources(type, { Properties: props }));
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${type} matching ${JSON.stringify(props)}, found ${found.length}`);
  }
  const [logicalId, resource] = found[0] as [string, { Properties: Record<string, unknown> }];
  return { logicalId, resource };
}

/** The logical id CloudFormation gets for a construct's default resource. */
export function logicalIdOf(construct: IConstruct): string {
  const cfn = construct.node.defaultChild as CfnResource;
  return cfn.stack.getLogicalId(cfn);
}
