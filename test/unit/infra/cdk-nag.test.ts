// Unit tests — the cdk-nag wiring the stack tests rely on: AwsSolutions really reports findings, an
// acknowledgement silences exactly the finding it names, and nagReference spells generated ARNs as cdk-nag does.

import { App, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { acknowledge, nagReference } from '../../../infra/constructs/nag.ts';

function findings(app: App): string[] {
  return new AwsSolutionsChecks()
    .validateScope(app)
    .violations.map((v) => v.ruleName)
    .sort();
}

describe('cdk-nag wiring', () => {
  it('reports an unencrypted, TLS-optional queue without a DLQ', () => {
    const app = new App();
    new Queue(new Stack(app, 'S'), 'Q');
    expect(findings(app)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('silences only the acknowledged finding, and refuses an acknowledgement without a real reason', () => {
    const app = new App();
    const queue = new Queue(new Stack(app, 'S'), 'Q');
    acknowledge(
      queue,
      'Test queue: the dead-letter queue is out of scope for this assertion.',
      'AwsSolutions-SQS3',
    );
    expect(findings(app)).not.toContain('AwsSolutions-SQS3');
    expect(findings(app)).toContain('AwsSolutions-SQS4');
    expect(() => acknowledge(queue, 'because', 'AwsSolutions-SQS4')).toThrow(/needs a real reason/);
  });

  it('spells a tokenized wildcard ARN the way cdk-nag reports it, so the acknowledgement matches', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const queue = new Queue(stack, 'Q', { enforceSSL: true });
    const role = new Role(stack, 'R', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    const resource = `${queue.queueArn}*`;
    role.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [resource] }));
    const id = `AwsSolutions-IAM5[Resource::${nagReference(stack, resource)}]`;
    expect(findings(app)).toContain(id);
    acknowledge(role, 'Test role: one queue and its siblings by prefix, nothing else.', id);
    expect(findings(app)).not.toContain(id);
  });
});
