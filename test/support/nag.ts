import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/**
 * The findings of the four cdk-nag packs the library promises to pass, as
 * `<rule> <resource path>` lines. cdk-nag 3 packs do not run as validation plugins on
 * aws-cdk-lib 2.257, so they are called directly on the construct tree.
 */
export function nagFindings(scope: IConstruct): string[] {
  const packs = [
    new AwsSolutionsChecks(scope),
    new HIPAASecurityChecks(scope),
    new NIST80053R5Checks(scope),
    new PCIDSS321Checks(scope),
  ];
  const findings: string[] = [];
  for (const pack of packs) {
    for (const violation of pack.validateScope(scope).violations) {
      for (const resource of violation.violatingResources) {
        findings.push(`${violation.ruleName} ${resource.constructPath ?? resource.resourceLogicalId}`);
      }
    }
  }
  return findings.sort();
}
