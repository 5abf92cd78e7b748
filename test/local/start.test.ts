import { App } from 'aws-cdk-lib';
import * as cdkJson from '../../cdk.json';
import { loadStageConfig } from '../../lib/config';
import { customerPipelineProfile } from '../../local/start';

/** The stage settings `npm start` synthesizes with: cdk.json's, the profile's, the sink's, the CLI's. */
const startContext = (cli: Record<string, string>) => ({
  ...cdkJson.context,
  ...customerPipelineProfile.context,
  ...cli,
  // What the notification sink's sidecar adds: the provider's stand-in on loopback.
  notificationEndpoint: 'http://127.0.0.1:4010/v1/messages',
});

describe('npm start', () => {
  test.each([
    [{}, 'dev', 'CustomerPipeline-dev', 'allAtOnce'],
    [{ stage: 'prod' }, 'prod', 'CustomerPipeline-prod', 'canary'],
  ] as const)(
    'with --context %j runs %s (%s), deployed %s, calling the local sink',
    (cli, stage, stackName, deployment) => {
      const context = startContext(cli);
      expect(
        customerPipelineProfile.stackFor?.({ ...customerPipelineProfile.context, ...cli }),
      ).toBe(stackName);
      const config = loadStageConfig(new App({ context }).node);
      expect(config).toEqual(
        expect.objectContaining({
          stage,
          deployment,
          notificationEndpoint: 'http://127.0.0.1:4010/v1/messages',
        }),
      );
    },
  );
});
