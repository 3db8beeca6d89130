// Infra entry point: `npx cdk synth|deploy -c env=dev|staging|prod` runs this (cdk.json). It reads the
// context once, builds the environment's stacks and runs cdk-nag, whose unacknowledged findings fail synth.

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from './config.ts';
import { buildVfleet } from './stacks/vfleet.ts';

const app = new App();
const config = loadConfig(app.node.tryGetContext('env'), {
  account: app.node.tryGetContext('account'),
  alarmEmail: app.node.tryGetContext('alarmEmail'),
});
buildVfleet(app, config);
// A plugin, not an aspect: it runs after the tree is complete and any unacknowledged finding stops synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
