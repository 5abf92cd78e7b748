import * as path from 'node:path';
import { type AppProfile, runLocalCloudCliProcess } from 'cdk-local-cloud';
import { nameOf } from '../lib/resource-names';
import { customerEventLabel } from './flow-label';
import { NOTIFICATION_SINK, startNotificationSink } from './notification-sink';
import { customerPipelineWatch } from './watch';

const portOf = (url: string | undefined): number | undefined => {
  const port = url === undefined ? Number.NaN : Number(new URL(url).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
};

/**
 * The stage `npm start` runs unless `--context stage=prod` says otherwise: its settings, with
 * the provider's stand-in (a loopback endpoint, which prod's settings accept only from the
 * local cloud: the `localCloud` context says it is one).
 */
export const LOCAL_STAGE = 'dev';

/**
 * What this app adds to the local cloud (packages/local-cloud): the stage and its stack,
 * a stand-in for the notification provider the welcome consumer calls, consumers named
 * as the constructs name them, and customer events labelled in the flow lines.
 */
export const customerPipelineProfile: AppProfile = {
  command: 'npm start --',
  description: `Runs the customer pipeline (stage ${LOCAL_STAGE}, or --context stage=prod) on a local AWS emulator.`,
  appDir: path.resolve(__dirname, '..'),
  stackName: `CustomerPipeline-${LOCAL_STAGE}`,
  stackFor: (context) => `CustomerPipeline-${context.stage ?? LOCAL_STAGE}`,
  context: { stage: LOCAL_STAGE, localCloud: 'true' },
  sidecars: [
    {
      name: NOTIFICATION_SINK,
      // Where it ran last time if it can: its URL is in the synth's context.
      start: async (previousUrl) => {
        const sink = await startNotificationSink({ port: portOf(previousUrl) }).catch(() =>
          startNotificationSink(),
        );
        return {
          url: sink.url,
          context: { notificationEndpoint: `${sink.url}/v1/messages` },
          stop: () => sink.close(),
        };
      },
    },
  ],
  nameOf: (_logicalId, resource) => nameOf(resource)?.name,
  labelOf: customerEventLabel,
  watch: customerPipelineWatch,
};

if (require.main === module) runLocalCloudCliProcess(customerPipelineProfile);
