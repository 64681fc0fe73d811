/*
 * The example app: a payments platform whose keys are all ClassifiedKeys, used by the
 * usual AWS consumers. `npx projen example` synthesizes it with the pinned CDK CLI
 * into cdk.out/ and prints what each key is (example/summary.ts). No AWS account or
 * credentials are needed. In your own app, import from 'cdk-kms-constructs'.
 */
import { writeFileSync } from 'fs';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { PaymentsPlatform } from './platform';

/** The file, next to the assembly, where the app records cdk-nag's findings. */
export const NAG_REPORT = 'nag-findings.json';

const app = new App();
new PaymentsPlatform(app, 'PaymentsPlatform', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'eu-west-1' },
});

const packs = [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app), new PCIDSS321Checks(app)];
const assembly = app.synth();
const findings = packs.flatMap(pack => pack.validateScope(app).violations.flatMap(violation =>
  violation.violatingResources.map(resource => ({
    pack: pack.readPackName,
    rule: violation.ruleName,
    path: resource.constructPath ?? resource.resourceLogicalId,
  }))));
writeFileSync(join(assembly.directory, NAG_REPORT), JSON.stringify({ packs: packs.map(p => p.readPackName), findings }, null, 2));
