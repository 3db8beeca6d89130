// Infra helper: cdk-nag acknowledgements. cdk-nag 3 reads CDK's native `Validations` acknowledgements,
// matched by exact rule id (with the finding in brackets for multi-finding rules such as IAM5); every one
// carries its reason, written where the resource is made.

import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges `ids` on `scope` (and everything under it) for `reason`. */
export function acknowledge(
  scope: IConstruct | readonly IConstruct[],
  reason: string,
  ...ids: readonly string[]
): void {
  if (reason.trim().length < 20)
    throw new Error(`cdk-nag acknowledgement of ${ids.join(', ')} needs a real reason`);
  for (const target of Array.isArray(scope) ? scope : [scope])
    for (const id of ids) Validations.of(target).acknowledge({ id, reason });
}

/**
 * The string cdk-nag shows for a (possibly tokenized) value in a finding: `Ref X` → `<X>`, `GetAtt X.Y` →
 * `<X.Y>`, joins concatenated. Lets a finding on a generated ARN be acknowledged exactly, in any account.
 */
export function nagReference(scope: IConstruct, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const o = node as Record<string, unknown>;
      if (Array.isArray(o['Fn::Join'])) {
        const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (o['Fn::Sub'] !== undefined) return visit(o['Fn::Sub']);
      if (Array.isArray(o['Fn::GetAtt'])) {
        const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if (o['Fn::ImportValue'] !== undefined) return visit(o['Fn::ImportValue']);
      if (o.Ref !== undefined) return `<${visit(o.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
