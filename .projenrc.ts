import { awscdk, javascript, JsonFile } from 'projen';

// aws-cdk-lib 2.257.0 is the newest release whose cloud assembly integ-runner 2.197.x
// can read; it is both the development version and the minimum peer.
const CDK_VERSION = '2.257.0';
// The aws-cdk CLI on the registry's `latest` tag cannot read current assemblies.
const CDK_CLI_VERSION = '2.1148.1';
// ts-node runs the example app, the integ tests and the benchmark from source.
const TS_NODE = 'ts-node --prefer-ts-exts';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-kms-constructs',
  description:
    'AWS CDK constructs for least-privilege, classified, audited and alarmed AWS KMS keys.',
  author: 'cdk-kms-constructs maintainers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/cdk-kms-constructs/cdk-kms-constructs.git',
  keywords: ['aws', 'cdk', 'kms', 'encryption', 'security', 'compliance', 'cloudtrail'],
  license: 'Apache-2.0',

  cdkVersion: CDK_VERSION,
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',

  // Bindings for the other jsii languages. They are built and published by the
  // release workflow on machines that reach those registries; here only JS is packed.
  publishToPypi: {
    distName: 'cdk-kms-constructs',
    module: 'cdk_kms_constructs',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkkmsconstructs',
    mavenGroupId: 'io.github.cdk-kms-constructs',
    mavenArtifactId: 'cdk-kms-constructs',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkKmsConstructs',
    packageId: 'CdkKmsConstructs',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-kms-constructs/cdk-kms-constructs-go',
  },

  devDeps: [
    'cdk-nag@^3.0.2',
    // AGPL: used only by the tests that evaluate synthesized policies, never shipped.
    '@cloud-copilot/iam-simulate@0.1.173',
    '@aws-cdk/integ-runner@2.197.10',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    `aws-cdk@${CDK_CLI_VERSION}`,
    'fast-check@^4',
    // AWS Control Tower's proactive controls as cfn-guard rules, with the cfn-guard binary.
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    // Custom-resource handlers: the SDK clients the Lambda runtime provides (so not
    // bundled), their event types, and the mock their unit tests run against.
    '@aws-sdk/client-kms@^3',
    '@aws-sdk/client-secrets-manager@^3',
    // The npm registry these machines reach has no newer CloudHSM or ACM Private CA
    // client. Their calls used here have not changed since; the handlers run on the
    // Lambda runtime's own, newer SDK, so these serve only types and the mocks.
    '@aws-sdk/client-cloudhsm-v2@3.332.0',
    '@aws-sdk/client-acm-pca@3.523.0',
    '@types/aws-lambda@^8',
    'aws-sdk-client-mock@^4',
  ],

  // Handlers (`src/*.lambda.ts`) are bundled with esbuild into `assets/` and shipped in
  // the package; the AWS SDK v3 is the runtime's. nodejs24.x is the newest runtime
  // aws-cdk-lib knows, which cdk-nag's AwsSolutions-L1 asks for.
  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    bundlingOptions: { externals: ['@aws-sdk/*'], sourcemap: false },
  },

  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 60_000,
    },
  },
  gitignore: ['cdk.out/', 'integ/*.snapshot/asset.*', 'bench/results/', '.tmp/'],
  npmIgnoreOptions: { ignorePatterns: ['example/', 'bench/', 'integ/', '.ci/', 'cdk.out/'] },
  githubOptions: { mergify: false },
  depsUpgrade: false,
});

// The integ tests, the example app and the benchmark are TypeScript apps run with
// ts-node from source; each folder has its own tsconfig so that ts-node and eslint
// find one, as test/ does.
for (const dir of ['integ', 'example', 'bench']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: {
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..' },
      include: ['**/*.ts'],
      exclude: ['node_modules', '**/*.snapshot/**', 'cdk.out'],
    },
  });
  project.eslint?.addLintPattern(dir);
  project.eslint?.allowDevDeps(`${dir}/**`);
}

// The handlers' shared calls on the AWS SDK (the runtime's, bundled into each handler).
project.eslint?.allowDevDeps('src/private/key-store-api.ts');
project.eslint?.allowDevDeps('src/private/cloudhsm-api.ts');
project.eslint?.allowDevDeps('src/private/cluster-certificates.ts');

// Integ snapshots are verified offline on every test run. `integ:update` rewrites them
// after an intended change; deploying them needs an AWS account.
const integ = project.addTask('integ', {
  description: 'Verify the integ test snapshots (no AWS account needed)',
  exec: 'integ-runner --directory integ --language typescript',
});
project.addTask('integ:update', {
  description: 'Rewrite the integ test snapshots after an intended change',
  exec: 'integ-runner --directory integ --language typescript --dry-run --update-on-failed',
});
project.testTask.spawn(integ);

// The main job: synthesize the example app with the pinned CLI, then summarize it.
project.addTask('example', {
  description: 'Synthesize the example app into cdk.out/ and print a summary of its keys',
  steps: [
    { exec: `cdk synth --quiet --app "${TS_NODE} example/app.ts" --output cdk.out` },
    { exec: `${TS_NODE} example/summary.ts cdk.out` },
  ],
});

project.addTask('bench', {
  description: 'Benchmark ClassifiedKey synthesis against plain kms.Key',
  exec: `${TS_NODE} bench/synth.bench.ts`,
});

// Only the JS package can be built on machines that reach npm alone; the release
// workflow packs the other languages.
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);

// After a full build nothing tracked may have changed: API.md, projen's generated
// files and the integ snapshots must all be committed as the build regenerates them.
const ci = project.addTask('ci', {
  description: 'The full check CI runs: compile, lint, test, integ, API.md, JS package',
});
ci.spawn(project.buildTask);
ci.exec('git diff --exit-code --stat', { name: 'generated files are up to date' });

project.synth();
