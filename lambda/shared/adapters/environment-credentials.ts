import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in every bundle (an esbuild alias
 * in `lib/bundling.ts`): the SDK clients take their default credential chain from
 * that package, and in Lambda the chain never gets past its first link, the
 * environment, which the runtime always fills with the execution role's credentials.
 * The other links (shared config files, SSO, process, web identity, container and
 * instance metadata, and the STS/SSO clients they call) are about a fifth of each
 * bundle, compiled on every cold start and never run.
 *
 * Without `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` the first AWS call fails
 * with fromEnv's "Unable to find environment variable credentials".
 */
export const defaultProvider = (
  init: Parameters<typeof fromEnv>[0] = {},
): ReturnType<typeof fromEnv> => fromEnv(init);
